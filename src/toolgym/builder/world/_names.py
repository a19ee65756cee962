"""Invented, plausible names: places, people, companies, products, titles, codes.

Names are made from syllables and word lists so that they read naturally but name nothing real, so a
model cannot answer from memory. :class:`Namer` keeps every name unique (case-insensitively) across
the whole world, which the answer matching relies on.
"""

from __future__ import annotations

import random

_ON = ("b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "tr",
       "v", "vr", "z", "th", "sh", "qu", "j", "w")
_VO = ("a", "e", "i", "o", "u", "ae", "ei", "ou", "ia", "y")
_CO = ("", "", "", "n", "r", "l", "s", "th", "nd", "rk", "m", "sk", "v", "x")
_COUNTRY = ("ia", "ovia", "eria", "land", "mark", "ara", "enne", "istra", "ova", "avia")
_CITY = ("holm", "mark", "ay", "burg", "ford", "ville", "grad", "ton", "ora", "wick", "stad", "port", "en", "is")
_FIRST = ("a", "o", "in", "el", "an", "is", "ia", "en", "ar", "ette")
_LAST = ("son", "vold", "ard", "ek", "sen", "ova", "ero", "ley", "ner", "ic", "dottir", "berg", "ani")
_BIZ = ("Dynamics", "Labs", "Industries", "Works", "Systems", "Holdings", "Group", "Foundry", "Analytics",
        "Textiles", "Motors", "Robotics", "Foods", "Logistics", "Pharma", "Media")
_BRANDS = ("Zephyr", "Aurel", "Nimbus", "Vanta", "Corvo", "Lumen", "Orbit", "Kestrel", "Halcyon", "Quill", "Tessel",
           "Brio", "Ember", "Fathom", "Glint", "Juniper", "Marlin", "Nova", "Pico", "Rune", "Sable", "Tundra")
_ITEMS = ("Lamp", "Kettle", "Drone", "Blender", "Headset", "Bike", "Router", "Camera", "Watch", "Speaker", "Desk",
          "Scooter", "Tent", "Oven", "Monitor", "Backpack", "Printer", "Heater", "Phone", "Tablet")
_ADJ = ("Glass", "Silent", "Hollow", "Crimson", "Distant", "Salt", "Iron", "Winter", "Paper", "Amber", "Broken",
        "Quiet", "Golden", "Last", "Lantern", "Northern", "Velvet", "Burning", "Secret", "Sunken")
_NOUN = ("Orchard", "Harbour", "Garden", "River", "Crown", "Mirror", "Tide", "Lighthouse", "Archive", "Bridge",
         "Kingdom", "Meadow", "Promise", "Compass", "Tower", "Letter", "Voyage", "Season", "Forest", "Clock")
_MASCOT = ("Falcons", "Wolves", "Otters", "Comets", "Rovers", "Lynxes", "Herons", "Titans", "Badgers", "Stags",
           "Hornets", "Mariners", "Rangers", "Foxes", "Ravens")
_MONEY = ("crown", "mark", "dinar", "florin", "real", "peso", "lira", "thaler", "ducat", "rand", "shilling")
_ANION = ("oxide", "chloride", "nitrate", "sulfide", "carbonate", "fluoride", "phosphate", "bromide", "hydride")
_BANK = ("National Bank of {c}", "Central Bank of {c}", "Reserve Bank of {c}", "{c} Monetary Authority")
_PEAK = ("Mount {n}", "{n} Peak", "{n} Horn", "Mount {n}", "{n} Spire")


class Namer:
    """Unique names drawn from one RNG (so a world is a pure function of its seed)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = {"usd"}

    def _syl(self, n: int) -> str:
        r = self.rng
        return "".join(r.choice(_ON) + r.choice(_VO) + r.choice(_CO) for _ in range(n))

    def unique(self, make, min_len: int = 4) -> str:
        for _ in range(200):
            name = make()
            key = name.lower()
            if key not in self.used and len(name) >= min_len:
                self.used.add(key)
                return name
        raise RuntimeError("name space exhausted; use a smaller world")

    def word(self, n: int = 2) -> str:
        return self._syl(n).capitalize()

    def country(self) -> str:
        return self.unique(lambda: self._syl(self.rng.choice((1, 2))).capitalize() + self.rng.choice(_COUNTRY))

    def city(self) -> str:
        return self.unique(lambda: self._syl(self.rng.choice((1, 2))).capitalize() + self.rng.choice(_CITY))

    def river(self) -> str:
        return self.unique(lambda: self.word(2) + self.rng.choice(("", "", " Vale", " Water")))

    def mountain(self) -> str:
        return self.unique(lambda: self.rng.choice(_PEAK).format(n=self.word(2)))

    def person(self) -> str:
        r = self.rng
        return self.unique(lambda: f"{self._syl(1).capitalize()}{r.choice(_FIRST)} "
                                   f"{self._syl(r.choice((1, 2))).capitalize()}{r.choice(_LAST)}")

    def company(self) -> str:
        r = self.rng
        return self.unique(lambda: r.choice((f"{self.word(2)} {r.choice(_BIZ)}", f"{self.word(1)} & {self.word(2)}",
                                             f"{self.word(2)}{r.choice(('co', 'tek', 'ex'))} {r.choice(_BIZ)}")))

    def product(self) -> str:
        r = self.rng
        return self.unique(lambda: r.choice((f"{r.choice(_BRANDS)} {r.choice('XQVKZR')}{r.randint(2, 99)}",
                                             f"{r.choice(_BRANDS)} {r.choice(_ITEMS)} {r.randint(2, 9)}",
                                             f"{self.word(1)} {r.choice(_ITEMS)} {r.choice(('Pro', 'Mini', 'Max', 'Air'))}")))

    def title(self) -> str:
        r = self.rng
        return self.unique(lambda: r.choice((f"The {r.choice(_ADJ)} {r.choice(_NOUN)}",
                                             f"{r.choice(_NOUN)} of {self.word(2)}",
                                             f"A {r.choice(_NOUN)} for {self.word(1)}{r.choice(_FIRST)}",
                                             f"{r.choice(_ADJ)} {r.choice(_NOUN)}s of {self.word(1)}")))

    def airline(self) -> str:
        r = self.rng
        return self.unique(lambda: r.choice((f"{self.word(2)} Air", f"{self.word(2)} Airways", f"Air {self.word(2)}",
                                             f"{r.choice(_ADJ)} {self.word(1)} Airlines")))

    def code(self, letters: int) -> str:
        """An upper-case code (currency, ticker, airline); element symbols are title-cased by the caller."""
        r = self.rng
        return self.unique(lambda: "".join(r.choice("ABCDEFGHIJKLMNOPRSTUVWXZ") for _ in range(letters)), 2)

    def flight(self, airline_code: str) -> str:
        return self.unique(lambda: f"{airline_code} {self.rng.randint(100, 9899)}")

    def team(self, city: str) -> str:
        return self.unique(lambda: f"{city} {self.rng.choice(_MASCOT)}")

    def element(self) -> str:
        return self.unique(lambda: self.word(self.rng.choice((1, 2))) + self.rng.choice(("ium", "on", "ine", "ite", "ium")))

    def compound(self, element: str) -> str:
        return self.unique(lambda: f"{element} {self.rng.choice(_ANION)}")

    @staticmethod
    def adjective(country: str) -> str:
        if country.endswith(("a", "e")):
            return country + "n"
        if country.endswith(("land", "mark")):
            return country + "ish"
        return country + "ian"

    def currency(self, country: str) -> str:
        return self.unique(lambda: f"{self.adjective(country)} {self.rng.choice(_MONEY)}")

    def bank(self, country: str) -> str:
        return self.rng.choice(_BANK).format(c=country)
