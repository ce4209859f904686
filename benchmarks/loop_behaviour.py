"""Seeded short meta-training of every learner; writes batch and epoch losses as JSON.

Run it on two commits and compare the files to check that a refactoring kept
behaviour: `PYTHONPATH=.:tests python benchmarks/loop_behaviour.py out.json`.
"""
import json, sys
sys.path.insert(0, "tests")  # make_few_shot_blobs
from conftest import make_few_shot_blobs
import sklmeta
from sklmeta.datasets import SinusoidTasks, load_omniglot

X, y = make_few_shot_blobs()
Xtr, ytr = X[y < 20], y[y < 20]
common = dict(verbose=0, random_state=0, device="cpu")
ep = dict(n_way=5, n_shot=2, n_query=3)
cases = {
    "protonet": sklmeta.ProtoNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=6, **ep, **common),
    "matching": sklmeta.MatchingNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=6, **ep, **common),
    "matching_fce": sklmeta.MatchingNetClassifier(encoder="mlp", fce=True, max_epochs=2, episodes_per_epoch=6, **ep, **common),
    "relation": sklmeta.RelationNetClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=6, **ep, **common),
    "siamese": sklmeta.SiameseClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=6, **ep, **common),
    "maml": sklmeta.MAMLClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=8, meta_batch_size=4, **ep, **common),
    "fomaml": sklmeta.MAMLClassifier(encoder="mlp", first_order=True, batch_tasks=False, max_epochs=2, episodes_per_epoch=8, meta_batch_size=4, **ep, **common),
    "metasgd": sklmeta.MAMLClassifier(encoder="mlp", learn_inner_lr=True, max_epochs=2, episodes_per_epoch=8, meta_batch_size=4, **ep, **common),
    "anil": sklmeta.MAMLClassifier(encoder="mlp", inner_params="head", max_epochs=2, episodes_per_epoch=8, meta_batch_size=4, **ep, **common),
    "reptile": sklmeta.ReptileClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=8, meta_batch_size=4, **ep, **common),
    "mann": sklmeta.MANNClassifier(encoder="mlp", max_epochs=2, episodes_per_epoch=8, **ep, **common),
    "finetune": sklmeta.FineTuneClassifier(encoder="mlp", max_epochs=2, **common),
}
out = {}
for name, est in cases.items():
    try:
        est.meta_fit(Xtr, ytr, validation_data=(X[y >= 20], y[y >= 20]))
    except TypeError:
        est.meta_fit(Xtr, ytr)
    h = est.history_
    out[name] = {"epoch": [[r.get("train_loss"), r.get("valid_loss")] for r in h],
                 "batch": [[b.get("train_loss") for b in r["batches"]] for r in h],
                 "pred": est.fit(X[y >= 25][::4], y[y >= 25][::4]).predict_proba(X[y >= 25]).sum(0).tolist()}
for name, kw in {"maml_reg": {}, "maml_reg_fo": {"first_order": True}}.items():
    est = sklmeta.MAMLRegressor(max_epochs=2, episodes_per_epoch=50, **kw, **common)
    est.meta_fit(SinusoidTasks(n_shot=5, random_state=0))
    out[name] = {"epoch": [r["train_loss"] for r in est.history_]}
est = sklmeta.ReptileRegressor(max_epochs=2, episodes_per_epoch=50, **common)
est.meta_fit(SinusoidTasks(n_shot=5, random_state=0))
out["reptile_reg"] = {"epoch": [r["train_loss"] for r in est.history_]}
# conv paths on a little Omniglot
om = load_omniglot(split="train")
keep = om.target < 40
Xo, yo = om.data[keep], om.target[keep]
for name, est in {
    "proto_conv": sklmeta.ProtoNetClassifier(max_epochs=1, episodes_per_epoch=4, **ep, **common),
    "maml_conv": sklmeta.MAMLClassifier(max_epochs=1, episodes_per_epoch=4, meta_batch_size=2, **ep, **common),
    "fomaml_conv": sklmeta.MAMLClassifier(first_order=True, max_epochs=1, episodes_per_epoch=4, meta_batch_size=2, **ep, **common),
}.items():
    est.meta_fit(Xo, yo)
    out[name] = {"batch": [[b.get("train_loss") for b in r["batches"]] for r in est.history_]}
json.dump(out, open(sys.argv[1], "w"), indent=0)
print("done", len(out))
