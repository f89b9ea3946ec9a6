"""Repository-wide pytest configuration (applies to tests/ and to the doctests in jaxloss/).

Strict promotion makes a silent broadcast or a silent dtype promotion fail loudly, and the float64
lane gives exact references. Library code must therefore pass under both settings.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
