"""`ovenai intents ...`: what the classifier makes of a message, and how well it does.

Neither command touches the database: ``classify`` reads one text, ``evaluate`` a labelled
set (the bundled one by default) through :func:`ovenai.intents.evaluate`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from ovenai import intents
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.errors import OvenAIError

intents_app = typer.Typer(help="Intents of inbound messages: classify one, measure a labelled set.")
app.add_typer(intents_app, name="intents")


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _share(right: int, total: int) -> str:
    return f"{right / total:.2f} ({right} of {total})" if total else "- (0 of 0)"


def _outcome(outcome: intents.Outcome, label: str) -> str:
    sample, result = outcome.sample, outcome.classification
    return (
        f'  {label} [labelled {sample.intent}, given {result.intent}] "{sample.text}"\n'
        f"      why: {result.reason}"
    )


def _counts(pairs: Counter[intents.Intent]) -> str:
    return ", ".join(f"{intent} {count}" for intent, count in pairs.most_common()) or "none"


@intents_app.command("classify")
def classify(
    text: Annotated[str, typer.Argument(help="The message, quoted.")],
    language: Annotated[
        str | None, typer.Option("--language", help="The lead's language (he, en): a hint.")
    ] = None,
) -> None:
    """Print the intent of TEXT, how sure the classifier is, and why."""
    result = intents.default_classifier().classify(text, language=language)
    typer.echo(f"{result.intent} (confidence {result.confidence:.2f})")
    typer.echo(f"why: {result.reason}")


@intents_app.command("evaluate")
def evaluate(
    file: Annotated[
        Path | None,
        typer.Argument(
            dir_okay=False,
            help='JSON Lines of {"text", "intent", "language"}; default: the bundled set.',
        ),
    ] = None,
    mistakes: Annotated[
        bool, typer.Option("--mistakes", help="Also list every misclassified message.")
    ] = False,
) -> None:
    """Per-intent precision, recall and support, accuracy, and every opt-out error."""
    try:
        samples = intents.load_samples(file)
    except OvenAIError as exc:
        raise common.fail(exc) from None
    result = intents.evaluate(samples, intents.default_classifier())
    typer.echo(f"{'intent':<16}{'precision':>10}{'recall':>8}{'support':>9}{'given':>7}")
    for row in result.per_intent:
        typer.echo(
            f"{row.intent:<16}{_figure(row.precision):>10}{_figure(row.recall):>8}"
            f"{row.support:>9}{row.predicted:>7}"
        )
    typer.echo(f"accuracy {_share(result.correct, result.total)}")
    languages = result.accuracy_by_language()
    typer.echo("by language: " + ", ".join(f"{k} {_share(*v)}" for k, v in languages.items()))
    opt_out = result.figures(intents.Intent.OPT_OUT)
    false, missed = result.false_opt_outs, result.missed_opt_outs
    typer.echo(
        f"opt-out: {opt_out.support} labelled, {opt_out.predicted} given, {len(false)} false, "
        f"{len(missed)} missed (precision {_figure(opt_out.precision)}, "
        f"recall {_figure(opt_out.recall)})"
    )
    labelled = Counter(o.sample.intent for o in false)
    given = Counter(o.classification.intent for o in missed)
    typer.echo(f"  false opt-outs were labelled: {_counts(labelled)}")
    typer.echo(f"  missed opt-outs were given: {_counts(given)}")
    for outcome in false:
        typer.echo(_outcome(outcome, "FALSE OPT-OUT"))
    for outcome in missed:
        typer.echo(_outcome(outcome, "missed opt-out"))
    if mistakes:
        others = [o for o in result.mistakes if o not in false and o not in missed]
        typer.echo(f"other mistakes: {len(others)}")
        for outcome in others:
            typer.echo(_outcome(outcome, "mistake"))
