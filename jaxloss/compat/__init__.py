"""Peer-library skins: the loss APIs of optax, PyTorch and Keras computed by jaxloss (API.md §6).

Each submodule converts argument order, defaults and reduction conventions, then calls a
canonical jaxloss loss.
"""

from . import keras as keras
from . import optax as optax
from . import torch as torch
