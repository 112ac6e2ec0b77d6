"""The template registry: Meta's templates of each WABA, grouped into language families.

A send names a family (``welcome_new_lead``) or an exact Meta name
(``welcome_new_lead_he``); :func:`prepare_send` chooses the template for the lead's
language, checks it and its parameters before any call, and renders the text the lead will
see. Management (:func:`sync`, :func:`submit`, :func:`export`, :func:`import_`) keeps the
registry in step with Meta; webhooks update it through :func:`apply_status_event` and its
siblings. Sub-modules: ``errors``, ``text`` (placeholders, rules, rendering), ``prepare``,
``defaults``, ``registry`` (rows, seed), ``management``, ``updates`` (Meta's status, quality
and category webhooks).
"""

from ovenai.templates.defaults import fill_params, known_params, uses
from ovenai.templates.errors import (
    InvalidTemplateParameter,
    TemplateNotApproved,
    TemplateNotFound,
)
from ovenai.templates.management import (
    ImportReport,
    SyncReport,
    build_components,
    export,
    import_,
    read_export,
    submit,
    sync,
)
from ovenai.templates.prepare import PreparedTemplate, base_language, choose, prepare_send
from ovenai.templates.registry import family_of, list_templates, load_seed, seed_definitions
from ovenai.templates.text import header_placeholders, placeholders, render
from ovenai.templates.updates import (
    ALERTING_STATUSES,
    apply_category_event,
    apply_quality_event,
    apply_status_event,
)

__all__ = [
    "ALERTING_STATUSES",
    "ImportReport",
    "InvalidTemplateParameter",
    "PreparedTemplate",
    "SyncReport",
    "TemplateNotApproved",
    "TemplateNotFound",
    "apply_category_event",
    "apply_quality_event",
    "apply_status_event",
    "base_language",
    "build_components",
    "choose",
    "export",
    "family_of",
    "fill_params",
    "known_params",
    "header_placeholders",
    "import_",
    "list_templates",
    "load_seed",
    "placeholders",
    "prepare_send",
    "read_export",
    "render",
    "seed_definitions",
    "submit",
    "sync",
    "uses",
]
