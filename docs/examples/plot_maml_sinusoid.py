"""
MAML on sinusoids: before and after adaptation
==============================================

The classic picture of the MAML paper (Finn et al., 2017): a network
meta-trained on sine waves of random amplitude and phase, then adapted by
gradient steps to a new wave from ten points. Before adaptation it
predicts roughly the mean of all waves; one step already bends it to the
new one, ten steps fit it closely.
"""

# %%
# Meta-train on a family of tasks
# --------------------------------
# :class:`~sklmeta.datasets.SinusoidTasks` draws regression tasks: each is
# ``y = a sin(x - b)`` with its own amplitude ``a`` and phase ``b``, from
# which ``meta_fit`` takes support and query points. A short run is enough
# for the shape of the result; the paper's 70,000 meta-iterations give the
# figures of the benchmark page.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone

from sklmeta import MAMLRegressor
from sklmeta.datasets import SinusoidTasks

maml = MAMLRegressor(max_epochs=60, episodes_per_epoch=1000, verbose=0, random_state=0)
maml.meta_fit(SinusoidTasks(n_shot=10, random_state=0))

# %%
# Adapt to a new wave from ten points
# -----------------------------------
# ``fit`` takes ``n_adapt_steps`` gradient steps from the meta-learned
# weights; ``set_params`` on a clone changes the number of steps and keeps
# what meta-training learned.
rng = np.random.default_rng(1)
amplitude, phase = 3.0, 2.0
x_support = rng.uniform(-5, 5, size=(10, 1))
y_support = amplitude * np.sin(x_support.ravel() - phase)
x_grid = np.linspace(-5, 5, 200).reshape(-1, 1)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(x_grid, amplitude * np.sin(x_grid.ravel() - phase), color="black", linewidth=2,
        label="true wave")
ax.scatter(x_support, y_support, color="black", zorder=3, label="10 support points")
for steps, colour in [(0, "tab:grey"), (1, "tab:blue"), (10, "tab:green")]:
    # zero steps: the meta-learned weights themselves
    adapted = clone(maml).set_params(n_adapt_steps=steps).fit(x_support, y_support)
    ax.plot(x_grid, adapted.predict(x_grid), color=colour, linestyle="--",
            label=f"after {steps} step{'s' if steps != 1 else ''}" if steps
            else "before adaptation")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="lower left", fontsize=8)
ax.set_title("MAML adapting to a new sine wave")
fig.tight_layout()

# %%
# How close, in numbers: the mean squared error on the grid.
for steps in (0, 1, 10):
    adapted = clone(maml).set_params(n_adapt_steps=steps).fit(x_support, y_support)
    error = np.mean((adapted.predict(x_grid) - amplitude * np.sin(x_grid.ravel() - phase)) ** 2)
    print(f"{steps:>2} steps: mean squared error {error:.3f}")
