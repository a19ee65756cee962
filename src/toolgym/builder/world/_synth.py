"""The synthetic world: a pure function of a seed.

Entities are generated type by type in a fixed order, relations are wired so the world is consistent
(a country's capital is one of its cities, a product is priced in the currency of its maker's home
country, a team plays in its home city), and every number is drawn in its attribute's range.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache

from ._domains import TYPES
from ._model import Attr, Entity, World
from ._names import Namer

#: How many entities of each type a synthetic world holds (dated records: per owner, see _DATED).
SIZES = {"country": 40, "city": 200, "river": 60, "mountain": 60, "company": 150, "person": 400, "product": 150,
         "airline": 30, "flight": 150, "team": 60, "element": 40, "compound": 60, "book": 120, "film": 120,
         "currency": 40, "stock": 100}
_DATED = {"weather": ("city", 60, 3), "match": ("team", 40, 3)}  # type: (owner type, owners, records each)


def _number(rng: random.Random, attr: Attr):
    if attr.kind in ("int", "year"):
        return rng.randint(int(attr.lo), int(attr.hi))
    value = round(rng.uniform(attr.lo, attr.hi), attr.digits or 1)
    if value == int(value):  # a float that prints as "12.0" would look like an int in one place, a float in another
        value = round(value + 10 ** -(attr.digits or 1), attr.digits or 1)
    return value


def _date(rng: random.Random, lo_year: int, hi_year: int) -> str:
    start = dt.date(int(lo_year), 1, 1).toordinal()
    return dt.date.fromordinal(rng.randint(start, dt.date(int(hi_year), 12, 28).toordinal())).isoformat()


def _fill(rng: random.Random, ent: Entity, world_refs: dict[str, list[str]]) -> None:
    """Draw every attribute not set yet."""
    for attr in TYPES[ent.type].attrs:
        if attr.name in ent.values:
            continue
        if attr.ref:
            ent.values[attr.name] = rng.choice(world_refs[attr.ref])
        elif attr.kind == "date":
            ent.values[attr.name] = _date(rng, attr.lo, attr.hi)
        elif attr.kind == "str":
            continue  # string attributes are set by the generator of the type
        else:
            ent.values[attr.name] = _number(rng, attr)


def _make_names(rng: random.Random, namer: Namer) -> dict[str, list[Entity]]:
    ents: dict[str, list[Entity]] = {}

    def make(t: str, names: list[str]) -> list[Entity]:
        ents[t] = [Entity(t, n) for n in names]
        return ents[t]

    countries = make("country", [namer.country() for _ in range(SIZES["country"])])
    make("city", [namer.city() for _ in range(SIZES["city"])])
    make("river", [namer.river() for _ in range(SIZES["river"])])
    make("mountain", [namer.mountain() for _ in range(SIZES["mountain"])])
    make("company", [namer.company() for _ in range(SIZES["company"])])
    make("person", [namer.person() for _ in range(SIZES["person"])])
    make("product", [namer.product() for _ in range(SIZES["product"])])
    airlines = make("airline", [namer.airline() for _ in range(SIZES["airline"])])
    codes = [namer.code(2) for _ in airlines]
    for a, c in zip(airlines, codes):
        a.values["_code"] = c
    make("flight", [namer.flight(rng.choice(codes)) for _ in range(SIZES["flight"])])
    cities = ents["city"]
    make("team", [namer.team(rng.choice(cities).name) for _ in range(SIZES["team"])])
    make("element", [namer.element() for _ in range(SIZES["element"])])
    make("compound", [namer.compound(rng.choice(ents["element"]).name) for _ in range(SIZES["compound"])])
    make("book", [namer.title() for _ in range(SIZES["book"])])
    make("film", [namer.title() for _ in range(SIZES["film"])])
    make("currency", [namer.currency(c.name) for c in countries])
    make("stock", [namer.code(rng.choice((3, 4))) for _ in range(SIZES["stock"])])
    return ents


def _wire(rng: random.Random, namer: Namer, ents: dict[str, list[Entity]]) -> dict[str, float]:
    """Set the relations that must agree with each other, and the string attributes."""
    countries, cities = ents["country"], ents["city"]
    for i, city in enumerate(cities):
        city.values["country"] = countries[i % len(countries)].name  # every country gets cities
    for i, country in enumerate(countries):
        own = [c for c in cities if c.values["country"] == country.name]
        country.values["capital"] = rng.choice(own).name
        country.values["currency"] = ents["currency"][i].name
    for i, m in enumerate(ents["mountain"]):
        m.values["country"] = countries[i % len(countries)].name
    for country in countries:
        peaks = [m for m in ents["mountain"] if m.values["country"] == country.name]
        country.values["highest_peak"] = peaks[0].name
    rates: dict[str, float] = {}
    for i, cur in enumerate(ents["currency"]):
        code = namer.code(3)
        cur.values["code"] = code
        cur.values["central_bank"] = namer.bank(countries[i].name)
        rates[code] = round(rng.uniform(0.05, 900.0), 4)
    by_city_currency = {c.name: countries[i % len(countries)].values["currency"] for i, c in enumerate(cities)}
    for company in ents["company"]:
        company.values["headquarters"] = rng.choice(cities).name
    company_of = {c.name: c for c in ents["company"]}
    for p in ents["product"]:
        p.values["manufacturer"] = rng.choice(ents["company"]).name
        p.values["currency"] = by_city_currency[company_of[p.values["manufacturer"]].values["headquarters"]]
    airline_of = {a.values["_code"]: a for a in ents["airline"]}
    for f in ents["flight"]:
        f.values["airline"] = airline_of[f.name.split()[0]].name
        f.values["origin"], f.values["destination"] = (c.name for c in rng.sample(cities, 2))
        f.values["departure"] = f"{rng.randint(5, 23):02d}:{rng.choice(range(0, 60, 5)):02d}"
    for a in ents["airline"]:
        a.values.pop("_code")
    for t in ents["team"]:
        t.values["home_city"] = t.name.rsplit(" ", 1)[0]
    for e in ents["element"]:
        e.values["symbol"] = namer.code(3).capitalize()
    for c in ents["compound"]:
        c.values["main_element"] = c.name.rsplit(" ", 1)[0]
    return rates


def _dated(rng: random.Random, ents: dict[str, list[Entity]]) -> None:
    for t, (owner_type, n_owners, per_owner) in _DATED.items():
        out = []
        for owner in rng.sample(ents[owner_type], n_owners):
            for date in sorted({_date(rng, 2024, 2031) for _ in range(per_owner)}):
                e = Entity(t, f"{owner.name}|{date}", owner=owner.name, date=date)
                if t == "match":
                    e.values["opponent"] = rng.choice([x for x in ents["team"] if x.name != owner.name]).name
                    e.values["score"] = f"{rng.randint(0, 6)}-{rng.randint(0, 6)}"
                out.append(e)
        ents[t] = out


@lru_cache(maxsize=4)
def synthetic_world(seed: int) -> World:
    """The invented world of ``seed`` (cached: building environments reads it many times)."""
    rng = random.Random(f"toolgym-world:{seed}")
    namer = Namer(rng)
    ents = _make_names(rng, namer)
    rates = _wire(rng, namer, ents)
    _dated(rng, ents)
    refs = {t: [e.name for e in es] for t, es in ents.items()}
    for t in TYPES:
        for e in ents[t]:
            _fill(rng, e, refs)
    return World(seed=seed, kind="synthetic", types=dict(TYPES), entities=ents, rates=rates)
