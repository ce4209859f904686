"""Meta-reinforcement learning: task families as gymnasium environments.

Needs gymnasium (``pip install sklmeta[rl]``). :class:`BernoulliBanditEnv`,
:class:`TabularMDPEnv` and :class:`PointNavigationEnv` are the task
families of RL² (Duan et al., 2016) and of MAML's 2-D navigation (Finn et
al., 2017); any gymnasium-compatible agent can play them.
:class:`RL2Agent` is RL²: a recurrent policy meta-trained across tasks of a
family that learns a new task within one trial; :class:`MAMLAgent` is MAML
on policies: an initial policy that a policy-gradient step adapts.
"""

from ._envs import BernoulliBanditEnv, PointNavigationEnv, TabularMDPEnv
from ._maml import MAMLAgent
from ._rl2 import RL2Agent

__all__ = ["BernoulliBanditEnv", "MAMLAgent", "PointNavigationEnv", "RL2Agent", "TabularMDPEnv"]
