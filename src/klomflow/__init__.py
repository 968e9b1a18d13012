"""klomflow: score data-unlearning methods with KLOM against oracle models.

Score margins you computed yourself::

    import klomflow
    scores = klomflow.klom_scores(unlearned_margins, oracle_margins)  # (n_models, n_samples) each
    print(klomflow.summarize_klom(scores))  # klom_mean, klom_p95, klom_p05
    low, high = klomflow.klom_p95_interval(unlearned_margins, oracle_margins)  # 95 % interval
"""

from importlib.metadata import PackageNotFoundError, version

from klomflow.klom import degenerate_samples, klom_scores, klom_scores_loop, summarize_klom
from klomflow.margins import margins_from_logits
from klomflow.uncertainty import klom_p95_interval

try:
    __version__ = version("klomflow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "degenerate_samples",
    "klom_p95_interval",
    "klom_scores",
    "klom_scores_loop",
    "margins_from_logits",
    "summarize_klom",
]
