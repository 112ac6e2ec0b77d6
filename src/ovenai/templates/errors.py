"""The registry's pre-flight errors: a send refused before anything reaches Meta.

They are OUR answers, raised from the registry; Meta's own answers to a bad template send
(132000, 132001, 132018) are the classes of the same spirit in ``ovenai.cloudapi.errors``::

    InvalidInput (422)
    ├── TemplateNotFound            no such family or name (in that language)
    └── InvalidTemplateParameter    count mismatch, newline, tab, 5 spaces, too long
    Conflict (409)
    └── TemplateNotApproved         it exists but its status is not APPROVED
"""

from __future__ import annotations

from ovenai.errors import Conflict, InvalidInput


class TemplateNotFound(InvalidInput):
    """No template of that family or name (in any usable language) in the registry."""

    def __init__(self, template: str, language: str | None = None) -> None:
        where = f" in language {language}" if language else ""
        super().__init__(f"template {template} does not exist{where}", field="template")
        self.template = template
        self.language = language


class TemplateNotApproved(Conflict):
    """The template exists but Meta has not approved it (pending, rejected, paused ...)."""

    def __init__(self, template: str, language: str, status: str) -> None:
        super().__init__(
            f"template {template} ({language}) is {status}, not APPROVED", field="template"
        )
        self.template = template
        self.language = language
        self.status = status


class InvalidTemplateParameter(InvalidInput):
    """A parameter does not fit the template; names the template and the parameter."""

    def __init__(self, template: str, parameter: str, problem: str, *, field: str) -> None:
        super().__init__(f"template {template}, parameter {parameter}: {problem}", field=field)
        self.template = template
        self.parameter = parameter
        self.problem = problem
