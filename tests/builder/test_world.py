"""The world: seeded, consistent, varied; the real-facts world loads and its relations resolve."""

from toolgym.builder.world import DOMAINS, make_world


def test_synthetic_world_is_a_function_of_the_seed():
    a, b, c = make_world("synthetic", 11), make_world("synthetic", 11), make_world("synthetic", 12)
    names = lambda w: [e.name for t in sorted(w.entities) for e in w.entities[t]]
    assert names(a) == names(b)
    assert names(a) != names(c)
    assert a.entities["country"][0].values == b.entities["country"][0].values


def test_world_has_many_domains_and_consistent_relations():
    w = make_world("synthetic", 0)
    assert len(DOMAINS) >= 8 and set(w.domains) == set(DOMAINS)
    for country in w.entities["country"]:
        capital = w.get("city", country.values["capital"])
        assert capital.values["country"] == country.name
    for product in w.entities["product"]:
        maker = w.get("company", product.values["manufacturer"])
        home = w.get("country", w.get("city", maker.values["headquarters"]).values["country"])
        assert product.values["currency"] == home.values["currency"]
    for t, ents in w.entities.items():  # every relation points at an existing entity
        for attr in w.types[t].attrs:
            if attr.ref:
                assert all(e.values[attr.name] in w.index[attr.ref] for e in ents if attr.name in e.values)
    keys = [e.name.lower() for t, ents in w.entities.items() if not w.types[t].dated for e in ents]
    assert len(keys) == len(set(keys)), "names must be unique across the world"


def test_real_world_loads_with_resolvable_relations():
    w = make_world("real")
    assert w.kind == "real" and w.get("country", "France").values["capital"] == "Paris"
    for t, ents in w.entities.items():
        for attr in w.types[t].attrs:
            if attr.ref:
                assert all(e.values[attr.name] in w.index[attr.ref] for e in ents if attr.name in e.values)
    assert w.rates["USD"] == 1.0
