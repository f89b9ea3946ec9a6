"""Peer-library loss APIs computed by jaxloss (API.md §6): ``optax``, ``torch``, ``keras``."""

from . import keras as keras
from . import torch as torch
