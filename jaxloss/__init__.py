"""jaxloss: JAX/XLA-accelerated loss functions — stable, verified, fast, shardable.

Every loss is a pure function ``loss(predictions_or_logits, targets, *, ..., weights=None,
where=None, reduction="mean")`` that works under ``jax.jit``, ``jax.vmap`` and ``jax.grad``.
See ``jaxloss.list_losses()`` and ``jaxloss.get(name)`` for the catalog and its aliases.
"""

# binary
from ._binary import binary_cross_entropy as binary_cross_entropy
from ._binary import binary_focal_loss as binary_focal_loss
from ._binary import hinge_loss as hinge_loss
from ._binary import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from ._binary import perceptron_loss as perceptron_loss
from ._binary import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from ._binary import sigmoid_focal_loss as sigmoid_focal_loss
from ._binary import soft_margin_loss as soft_margin_loss
from ._binary import squared_hinge_loss as squared_hinge_loss

# checked mode (runtime input checks through checkify)
from ._checked import LossInputError as LossInputError
from ._checked import checked as checked
from ._checked import checkify as checkify
from ._classification import categorical_focal_loss as categorical_focal_loss
from ._classification import generalized_cross_entropy as generalized_cross_entropy
from ._classification import multi_margin_loss as multi_margin_loss
from ._classification import multiclass_hinge_loss as multiclass_hinge_loss
from ._classification import multiclass_perceptron_loss as multiclass_perceptron_loss
from ._classification import multilabel_margin_loss as multilabel_margin_loss
from ._classification import poly1_cross_entropy as poly1_cross_entropy

# classification
from ._classification import softmax_focal_loss as softmax_focal_loss
from ._cross_entropy import categorical_cross_entropy as categorical_cross_entropy
from ._cross_entropy import nll_loss as nll_loss

# cross_entropy
from ._cross_entropy import softmax_cross_entropy as softmax_cross_entropy
from ._cross_entropy import sparse_categorical_cross_entropy as sparse_categorical_cross_entropy
from ._cross_entropy import sparse_softmax_cross_entropy as sparse_softmax_cross_entropy
from ._cross_entropy import z_loss as z_loss

# post-training (API.md §7): token log-probs, preference, policy and distillation losses
from ._distillation import distillation_loss as distillation_loss
from ._divergence import generalized_kl_divergence as generalized_kl_divergence
from ._divergence import js_divergence as js_divergence

# divergence
from ._divergence import kl_divergence as kl_divergence
from ._divergence import kl_divergence_from_probabilities as kl_divergence_from_probabilities

# optax's further losses: sparsemax, listwise ranking, Fenchel-Young
from ._fenchel_young import make_fenchel_young_loss as make_fenchel_young_loss

# large vocabulary: fused linear cross-entropy (registers itself with the registry)
from ._linear_ce import linear_cross_entropy as linear_cross_entropy

# fused post-training on the same engine (API.md §7; the distillation loss registers itself)
from ._linear_post import linear_distillation_loss as linear_distillation_loss
from ._linear_post import linear_token_log_probs as linear_token_log_probs
from ._metric import circle_loss as circle_loss
from ._metric import contrastive_loss as contrastive_loss

# metric
from ._metric import cosine_distance as cosine_distance
from ._metric import cosine_embedding_loss as cosine_embedding_loss
from ._metric import cosine_similarity_loss as cosine_similarity_loss
from ._metric import hinge_embedding_loss as hinge_embedding_loss
from ._metric import margin_ranking_loss as margin_ranking_loss
from ._metric import ntxent_loss as ntxent_loss
from ._metric import triplet_margin_loss as triplet_margin_loss
from ._metric import (
    triplet_margin_with_distance_loss as triplet_margin_with_distance_loss,
)
from ._policy import grpo_loss as grpo_loss
from ._preference import dpo_loss as dpo_loss
from ._preference import kto_loss as kto_loss
from ._preference import orpo_loss as orpo_loss
from ._preference import simpo_loss as simpo_loss
from ._ranking import ranking_softmax_loss as ranking_softmax_loss

# shared reduction and registry
from ._reduction import reduce_loss as reduce_loss
from ._registry import get as get
from ._registry import list_losses as list_losses
from ._regression import gaussian_nll_loss as gaussian_nll_loss
from ._regression import huber_loss as huber_loss
from ._regression import log_cosh as log_cosh
from ._regression import mean_absolute_error as mean_absolute_error
from ._regression import mean_absolute_percentage_error as mean_absolute_percentage_error

# regression
from ._regression import mean_squared_error as mean_squared_error
from ._regression import mean_squared_logarithmic_error as mean_squared_logarithmic_error
from ._regression import poisson_nll_loss as poisson_nll_loss
from ._regression import quantile_loss as quantile_loss
from ._regression import root_mean_squared_error as root_mean_squared_error
from ._regression import smooth_l1_loss as smooth_l1_loss

# segmentation
from ._segmentation import dice_loss as dice_loss
from ._segmentation import generalized_dice_loss as generalized_dice_loss
from ._segmentation import jaccard_loss as jaccard_loss
from ._segmentation import tversky_loss as tversky_loss

# sequence
from ._sequence import ctc_loss as ctc_loss
from ._sequence import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from ._sparsemax import multiclass_sparsemax_loss as multiclass_sparsemax_loss
from ._sparsemax import sparsemax_loss as sparsemax_loss
from ._token import selective_log_softmax as selective_log_softmax
from ._token import token_log_probs as token_log_probs
from ._utilities import accuracy as accuracy
from ._utilities import binary_accuracy as binary_accuracy
from ._utilities import l1_penalty as l1_penalty

# regularisers, label utilities, metrics
from ._utilities import l2_penalty as l2_penalty
from ._utilities import one_hot as one_hot
from ._utilities import smooth_labels as smooth_labels
from ._version import __version__ as __version__
