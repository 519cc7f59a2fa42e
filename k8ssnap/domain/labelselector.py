"""LabelSelector: the standard Kubernetes label selector, for ``RestorePreference.labelSelector``.

Semantics are apimachinery's ``metav1.LabelSelectorAsSelector``:

* ``matchLabels`` and every ``matchExpressions`` entry must all hold (AND);
* ``In`` / ``NotIn`` need a non-empty ``values`` list; ``NotIn`` also
  matches an object without the key;
* ``Exists`` / ``DoesNotExist`` must have no ``values``;
* an empty selector (``{}``) matches everything.

:meth:`LabelSelector.parse` raises ValueError, naming the field, for any
other shape, so a preference with a malformed selector is refused before
a restore starts, never read as "match everything".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_WITH_VALUES = frozenset({"In", "NotIn"})


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry (``matchLabels`` entries become ``In`` with one value)."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        """Whether ``labels`` satisfy this requirement."""
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        inside = present and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed selector: all requirements must hold."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, value: object, *, field: str = "labelSelector") -> LabelSelector:
        """Parse ``{matchLabels, matchExpressions}``; ValueError names the bad field."""
        if not isinstance(value, Mapping):
            raise ValueError(f"{field} must be an object with matchLabels and/or matchExpressions")  # noqa: TRY004 -- bad manifest content
        unknown = sorted(set(value) - {"matchLabels", "matchExpressions"})
        if unknown:
            raise ValueError(f"{field} has unknown fields: {', '.join(map(str, unknown))}")
        requirements = list(_match_labels(value.get("matchLabels"), field=f"{field}.matchLabels"))
        expressions = value.get("matchExpressions")
        if expressions is not None and not isinstance(expressions, list):
            raise ValueError(f"{field}.matchExpressions must be a list")
        for index, expression in enumerate(expressions or ()):
            requirements.append(_expression(expression, field=f"{field}.matchExpressions[{index}]"))
        return cls(tuple(requirements))

    def matches(self, labels: Mapping[str, Any]) -> bool:
        """Whether ``labels`` (an object's ``metadata.labels``) satisfy every requirement."""
        return all(requirement.matches(labels) for requirement in self.requirements)


def _match_labels(value: object, *, field: str) -> list[Requirement]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ValueError(f"{field} must be an object of label keys to values")  # noqa: TRY004 -- bad manifest content
    found = []
    for key, label in value.items():
        if not isinstance(key, str) or not key or not isinstance(label, str):
            raise ValueError(f"{field} must map non-empty label keys to string values")
        found.append(Requirement(key, "In", frozenset({label})))
    return found


def _expression(value: object, *, field: str) -> Requirement:
    if not isinstance(value, Mapping):
        raise ValueError(f"{field} must be an object with key, operator and values")  # noqa: TRY004 -- bad manifest content
    key, operator, values = value.get("key"), value.get("operator"), value.get("values")
    if not isinstance(key, str) or not key:
        raise ValueError(f"{field}.key must be a non-empty string")
    if operator not in OPERATORS:
        raise ValueError(f"{field}.operator is {operator!r}; it must be one of {', '.join(OPERATORS)}")
    if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise ValueError(f"{field}.values must be a list of strings")
    if operator in _WITH_VALUES and not values:
        raise ValueError(f"{field}: operator {operator} needs at least one value")
    if operator not in _WITH_VALUES and values:
        raise ValueError(f"{field}: operator {operator} takes no values")
    return Requirement(key, str(operator), frozenset(values or ()))
