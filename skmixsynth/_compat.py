"""The one place where skmixsynth imports scikit-learn's private names.

scikit-learn keeps its parameter-validation machinery in a private module
(``sklearn.utils._param_validation``); every estimator of the package declares its
``_parameter_constraints`` with these classes. Importing them from here means a future
scikit-learn that moves them needs one edit, in this file.

Examples
--------
>>> import numbers
>>> from skmixsynth._compat import Interval
>>> Interval(numbers.Integral, 1, None, closed="left").is_satisfied_by(3)
True
"""

from __future__ import annotations

from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions"]
