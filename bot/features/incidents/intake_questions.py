"""What the incident intake asks, how it reads the answers, and what it says on filing.

The conversation itself (state, filing, cancelling) is :mod:`bot.features.incidents.intake`.
"""

from __future__ import annotations

from bot.features.incidents import service
from bot.features.incidents.models import SEVERITIES
from bot.features.incidents.playbooks import Playbook, Playbooks
from bot.messaging import md

CANCEL_WORDS = frozenset({"cancel", "stop", "abort", "quit"})
SKIP_WORDS = frozenset({"skip", "-", "don't know", "dont know", "not sure", "unknown", "n/a"})
STEPS = ("type", "what", "question", "when", "affected", "severity")
YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "i did", "yes i did", "oui", "ja"})
NO_WORDS = frozenset({"no", "n", "nope", "i didn't", "i did not", "no i didn't"})
QUESTIONS = {
    "what": "What happened? A few sentences are enough.",
    "when": "When did it happen, roughly? (Send skip if you don't know.)",
    "affected": "What is affected: devices, accounts, keys, repositories, funds? "
    "(Send skip if unsure.)",
    "severity": "How bad does it look: low, medium, high or critical? "
    "(Send skip if you can't tell.)",
}


def type_question(playbooks: Playbooks) -> str:
    """The type question (Markdown): the playbooks' menu as a numbered list."""
    return "\n".join(
        [
            "What kind of incident is it? Answer with a number or a word:",
            "",
            *(_menu_item(line) for line in playbooks.menu()),
            "",
            "(As soon as you tell me the type, I alert the security team and give you the "
            "first steps. Send cancel to stop.)",
        ]
    )


def _menu_item(line: str) -> str:
    """A numbered line ``"3. text"`` as a Markdown list item with its text escaped."""
    number, _, text = line.partition(". ")
    return f"{number}. {md.escape(text)}"


def first_steps_text(playbook: Playbook) -> str:
    """The first steps (Markdown)."""
    steps = [f"{i}. {md.escape(s)}" for i, s in enumerate(playbook.first_steps, start=1)]
    return "\n".join([f"⚠ **{md.escape(playbook.name)} — do these now:**", "", *steps])


def _alerted(paged: list[str], triage: bool) -> str:
    who = ["the security team (in its private triage room)"] if triage else []
    if paged:
        people = ", ".join(md.mention(u) for u in paged)
        who.append(f"the on-call responder {people} (by direct message)")
    return " and ".join(who) or "the security team"


def thanks_text(
    number: int, paged: list[str], triage: bool, *, more_questions: bool = False
) -> str:
    """Thank the reporter without blame and say who has been alerted (Markdown)."""
    ref = service.ref(number)
    then = (
        "A few more questions help them; they will contact you here, so keep this chat open."
        if more_questions
        else "They will contact you here; keep this chat open."
    )
    return (
        f"Thank you — your report is **{ref}**. Reporting quickly is exactly the right thing "
        f"to do, and nobody will blame you for it. I have alerted {_alerted(paged, triage)}. "
        f"{then}"
    )


def read_answer(step: str, answer: str, word: str) -> tuple[str | None, str | None]:
    """Read the answer to ``step`` (not the type question).

    Args:
        step: the question answered ("what", "question", "when", "affected", "severity").
        answer: the message as sent (stripped).
        word: the same, lower-cased and without the command prefix.

    Returns:
        ``(value, None)`` — ``value`` is None for a skipped question — or ``(None, problem)``
        when the answer cannot be used (the problem is the reply, asking again).
    """
    if step == "what":
        if word in SKIP_WORDS:
            return None, "I need at least a sentence about what happened. " + QUESTIONS["what"]
        return answer, None
    if step == "question":
        if word in YES_WORDS:
            return "yes", None
        if word in NO_WORDS:
            return "no", None
        if word not in SKIP_WORDS:
            return None, "Please answer yes, no, or skip if you are not sure."
        return None, None
    if word in SKIP_WORDS:
        return None, None
    if step == "severity":
        value = _severity(word)
        if value is None:
            return None, "Please answer low, medium, high, critical or skip."
        return value, None
    return answer, None  # when, affected


def next_step(step: str, playbook: Playbook | None) -> str | None:
    """The step after ``step`` (None: the intake is complete)."""
    following = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else None
    if following == "question" and (playbook is None or not playbook.question):
        return "when"  # this type has no key question
    return following


def question_for(step: str, playbook: Playbook | None, paged: list[str]) -> str:
    """The question for ``step``, after news of a page if the last answer caused one."""
    question = md.escape(
        (playbook.question if step == "question" and playbook else None) or QUESTIONS[step]
    )
    if step == "question":
        question += " (yes / no / skip)"
    if paged:
        question = (
            f"That makes it urgent: I have paged the on-call responder "
            f"{md.escape(', '.join(paged))}.\n\n{question}"
        )
    return question


def _severity(word: str) -> str | None:
    for severity in SEVERITIES:
        if word in (severity, severity[0]):
            return severity
    return {"med": "medium", "crit": "critical", "bad": "high", "very bad": "critical"}.get(word)
