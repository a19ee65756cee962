"""Wording: how entities, attributes, dates and whole questions are phrased.

Many templates per form, chosen by the environment's RNG, so the questions of a build vary in
structure and vocabulary (the manifest reports distinct question n-grams). Nested phrases carry the
multi-hop structure: "the currency of the country where the Sennet rises".
"""

from __future__ import annotations

import datetime as dt
import random

from .world import DATE_PHRASES, MONTHS, UNIT_WORDS, EntityType

# Templates that also read well around a clause ("when X was born") as well as a noun phrase.
_SINGLE_ANY = ("Can you tell me {np}?", "I need to know {np}.", "Please look up {np}.", "Do you know {np}?",
               "Tell me {np}, please.", "Could you find out {np}?", "Find out {np}.", "I'd like to know {np}.")
_SINGLE_NP = ("What is {np}?", "Find {np}.", "I'm curious about {np}. What is it?", "Quick question: what is {np}?",
              "Look up {np} for me.", "What's {np}?")
_CLAUSE_START = ("when ", "how ", "who ", "where ", "which ", "what ")
_LIST_NP = ("What are {list}?", "Give me {list}.", "Look up {list} for me.")
_LIST = ("Tell me {list}.", "Please find {list}.", "I need {list}.",
         "Could you look up {list}?", "I'd like to know {list}.", "Find out {list}, please.",
         "For a report I need to know {list}.")
_CONVERT = ("What is {np}, in {unit}?", "Express {np} in {unit}.", "How much is {np} when converted to {unit}?",
            "Give me {np} in {unit}.", "Convert {np} to {unit}. What do you get?")
_MONEY = ("How much is {np} in {cur}?", "What is {np} when converted to {cur}?", "Convert {np} into {cur}.",
          "Give me {np} expressed in {cur}.")
_DAYS_TO = ("How many days are there between {np} and {date}?", "Count the days from {np} to {date}.",
            "How many days passed from {np} until {date}?")
_DIFF = ("What is {a} minus {b}?", "Subtract {b} from {a}. What is the result?",
         "What do you get when you take {b} away from {a}?", "Compute {a} minus {b}.",
         "What is the difference when {b} is subtracted from {a}?")
_SUM = ("What is the sum of {list}?", "What do {list} add up to?", "What is the combined total of {list}?",
        "Add up {list}. What is the total?", "What is the total of {list}?")
_MEAN = ("What is the average of {list}?", "What is the mean of {list}?", "Average {list}. What do you get?",
         "Compute the arithmetic mean of {list}.")
_EXTREME = ("Which {noun} has the {dir} {attr}: {list}?", "Of {list}, which {noun} has the {dir} {attr}?",
            "Among {list}, which one has the {dir} {attr}?", "Compare {list}: which has the {dir} {attr}?")
_RANK = ("Rank {list} by {attr}, {order}.", "Order {list} by {attr} ({order}).",
         "Sort {list} by their {attr}, {order}.", "List {list} by {attr}, {order}.")
_DAYS = ("How many days passed between {a} and {b}?", "How many days lie between {a} and {b}?",
         "Count the days from {a} to {b}.", "What is the number of days from {a} until {b}?")
_MENTION = ("{name}", "{name}", "the {noun} {name}", "{name}", "the {noun} called {name}", "the {noun} {name}")
_ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}


def date_words(rng: random.Random, iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    nth = f"{d.day}{_ORDINAL.get(d.day, 'th')}"
    return rng.choice(DATE_PHRASES).format(day=d.day, month=MONTHS[d.month - 1], year=d.year, nth=nth)


def mention(rng: random.Random, etype: EntityType, name: str) -> str:
    return rng.choice(_MENTION).format(name=name, noun=rng.choice(etype.nouns))


def is_clause(text: str) -> bool:
    return text.startswith(_CLAUSE_START)


def attr_phrase(rng: random.Random, phrases: tuple[str, ...], inner: str, date: str | None, *, plain: bool,
                clause_ok: bool) -> str:
    """One attribute phrase around ``inner``. A possessive ("{x}'s capital") only around a plain name;
    a clause ("when {x} was born") only where the caller can word a clause."""
    fits = [p for p in phrases if (plain or not p.startswith("{x}'s")) and (clause_ok or not is_clause(p))]
    return rng.choice(fits or phrases).format(x=inner, d=date or "")


def join_list(items: list[str], rng: random.Random) -> str:
    if len(items) == 2:
        return f"{items[0]} {rng.choice(('and', 'as well as'))} {items[1]}"
    return "; ".join(items[:-1]) + f"; and {items[-1]}" if rng.random() < 0.3 else ", ".join(items[:-1]) + f" and {items[-1]}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def single(rng: random.Random, np: str) -> str:
    templates = _SINGLE_ANY if is_clause(np) else _SINGLE_ANY + _SINGLE_NP
    return _cap(rng.choice(templates).format(np=np))


def listing(rng: random.Random, nps: list[str]) -> str:
    templates = _LIST if any(is_clause(n) for n in nps) else _LIST + _LIST_NP
    return _cap(rng.choice(templates).format(list=join_list(nps, rng)))


def convert(rng: random.Random, np: str, unit: str) -> str:
    return _cap(rng.choice(_CONVERT).format(np=np, unit=UNIT_WORDS.get(unit, unit)))


def money(rng: random.Random, np: str, currency: str) -> str:
    cur = "US dollars" if currency == "USD" else f"the currency with code {currency}"
    return _cap(rng.choice(_MONEY).format(np=np, cur=cur))


def days_to(rng: random.Random, np: str, date: str) -> str:
    return _cap(rng.choice(_DAYS_TO).format(np=np, date=date))


def combine(rng: random.Random, op: str, nps: list[str], noun: str = "", attr: str = "") -> str:
    """The question for an operation over several sub-answers."""
    if op == "diff":
        return _cap(rng.choice(_DIFF).format(a=nps[0], b=nps[1]))
    if op == "days_between":
        return _cap(rng.choice(_DAYS).format(a=nps[0], b=nps[1]))
    listed = join_list(nps, rng).replace(" and ", " or ", 1) if op in ("max", "min") else join_list(nps, rng)
    if op == "sum":
        return _cap(rng.choice(_SUM).format(list=listed))
    if op == "mean":
        return _cap(rng.choice(_MEAN).format(list=listed))
    if op in ("max", "min"):
        direction = "highest" if op == "max" else "lowest"
        return _cap(rng.choice(_EXTREME).format(list=listed, noun=noun, dir=direction, attr=attr))
    return _cap(rng.choice(_RANK).format(list=listed, attr=attr,
                                         order=rng.choice(("highest first", "from highest to lowest"))))
