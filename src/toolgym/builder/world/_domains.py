"""The domains of the world: entity types, their attributes, and how questions name them.

Each attribute carries several noun-phrase templates (``{x}`` is the phrase of the entity it belongs
to; it may itself be a nested phrase, which is how multi-hop questions are worded), so no single
template dominates the questions built from it. Numbers are generated in ranges that keep them
distinctive (at least three characters), because the reward matches answers as substrings.
"""

from __future__ import annotations

from ._model import Attr, EntityType

A = Attr


def _t(name, domain, nouns, key, attrs, owner=None, source="registry") -> EntityType:
    return EntityType(name, domain, tuple(nouns), key, tuple(attrs), owner, source)


TYPES: dict[str, EntityType] = {t.name: t for t in [
    # ---- geography ------------------------------------------------------------------------------
    _t("country", "geography", ["country", "nation"], "country", [
        A("capital", "ref:city", ("the capital of {x}", "{x}'s capital city", "the city that is the capital of {x}")),
        A("currency", "ref:currency", ("the currency of {x}", "the official currency used in {x}",
                                       "the money people pay with in {x}")),
        A("population", "int", ("the population of {x}", "the number of people living in {x}",
                                "how many inhabitants {x} has"), 400_000, 90_000_000),
        A("area", "qty:km2", ("the area of {x}", "the land area of {x}", "how large {x} is in area"), 1_200, 900_000),
        A("independence_year", "year", ("the year {x} became independent", "the independence year of {x}",
                                        "when {x} gained independence"), 1700, 1995),
        A("highest_peak", "ref:mountain", ("the highest mountain of {x}", "the tallest peak in {x}",
                                           "{x}'s highest summit")),
    ], source="national statistics office"),
    _t("city", "geography", ["city", "town"], "city", [
        A("country", "ref:country", ("the country {x} is in", "the country that {x} belongs to",
                                     "the nation in which {x} lies")),
        A("population", "int", ("the population of {x}", "how many people live in {x}",
                                "the number of residents of {x}"), 12_000, 4_000_000),
        A("mayor", "ref:person", ("the mayor of {x}", "who governs {x} as mayor", "{x}'s current mayor")),
        A("founded_year", "year", ("the year {x} was founded", "the founding year of {x}", "when {x} was founded"),
          900, 1890),
        A("elevation", "qty:m", ("the elevation of {x}", "how high above sea level {x} lies",
                                 "the altitude of {x}"), 120, 2900),
    ], source="municipal registry"),
    _t("river", "geography", ["river"], "river", [
        A("source_country", "ref:country", ("the country where {x} rises", "the country in which {x} has its source",
                                            "the nation where the source of {x} lies")),
        A("mouth_city", "ref:city", ("the city at the mouth of {x}", "the city where {x} reaches the sea",
                                     "the port city at the end of {x}")),
        A("length", "qty:km", ("the length of {x}", "how long {x} is", "the total length of {x}"), 110, 4200),
        A("discharge", "float", ("the mean discharge of {x} in cubic metres per second",
                                 "how much water {x} carries per second, in cubic metres",
                                 "the average flow of {x} (m3/s)"), 100, 9000, 1),
    ], source="hydrographic survey"),
    _t("mountain", "geography", ["mountain", "peak"], "mountain", [
        A("country", "ref:country", ("the country where {x} stands", "the country that {x} is in",
                                     "the nation {x} belongs to")),
        A("height", "qty:m", ("the height of {x}", "how tall {x} is", "the elevation of the summit of {x}"),
          1200, 8400),
        A("first_climber", "ref:person", ("the first person to climb {x}", "who first reached the summit of {x}",
                                          "the climber who made the first ascent of {x}")),
        A("first_ascent", "date", ("the date of the first ascent of {x}", "when {x} was first climbed",
                                   "the day {x} was first summited"), 1850, 1990),
    ], source="alpine club records"),
    # ---- companies and people ---------------------------------------------------------------------
    _t("company", "business", ["company", "firm"], "company", [
        A("ceo", "ref:person", ("the CEO of {x}", "the chief executive of {x}", "who runs {x}")),
        A("headquarters", "ref:city", ("the city where {x} has its headquarters", "the headquarters city of {x}",
                                       "where {x} is headquartered")),
        A("founded_year", "year", ("the year {x} was founded", "when {x} was established",
                                   "the founding year of {x}"), 1850, 2022),
        A("employees", "int", ("the number of employees of {x}", "how many people {x} employs",
                               "the headcount of {x}"), 140, 250_000),
        A("revenue", "float", ("the annual revenue of {x} in millions of US dollars",
                               "how much {x} earned last year, in million USD",
                               "the yearly turnover of {x} (USD millions)"), 12, 90_000, 1),
    ], source="company register"),
    _t("person", "business", ["person"], "name", [
        A("birthplace", "ref:city", ("the birthplace of {x}", "the city where {x} was born", "where {x} was born")),
        A("birth_date", "date", ("the date of birth of {x}", "when {x} was born", "{x}'s birthday"), 1930, 2001),
        A("employer", "ref:company", ("the employer of {x}", "the company {x} works for", "where {x} works")),
        A("height", "qty:cm", ("the height of {x}", "how tall {x} is", "{x}'s height"), 150, 205),
    ], source="civil registry"),
    # ---- products -------------------------------------------------------------------------------
    _t("product", "products", ["product", "item"], "product", [
        A("manufacturer", "ref:company", ("the manufacturer of {x}", "the company that makes {x}",
                                          "who produces {x}")),
        A("price", "money", ("the price of {x}", "how much {x} costs", "the list price of {x}"), 9, 4000, 2),
        A("release_date", "date", ("the release date of {x}", "when {x} was released",
                                   "the day {x} went on sale"), 2005, 2030),
        A("weight", "qty:kg", ("the weight of {x}", "how heavy {x} is", "the mass of {x}"), 0.2, 90, 2),
        A("currency", "ref:currency", ("the currency {x} is priced in", "the currency of the price of {x}",
                                       "which currency {x} is sold in")),
    ], source="product catalogue"),
    # ---- flights and timetables -----------------------------------------------------------------
    _t("airline", "travel", ["airline", "carrier"], "airline", [
        A("hub", "ref:city", ("the hub city of {x}", "the city where {x} has its main hub", "{x}'s home base")),
        A("ceo", "ref:person", ("the CEO of {x}", "the chief executive of {x}", "who leads {x}")),
        A("fleet_size", "int", ("the fleet size of {x}", "how many aircraft {x} operates",
                                "the number of planes in {x}'s fleet"), 110, 900),
        A("founded_year", "year", ("the year {x} was founded", "when {x} started flying",
                                   "the founding year of {x}"), 1919, 2015),
    ], source="aviation authority"),
    _t("flight", "travel", ["flight"], "flight", [
        A("airline", "ref:airline", ("the airline operating {x}", "the carrier that flies {x}",
                                     "which airline runs {x}")),
        A("origin", "ref:city", ("the departure city of {x}", "where {x} departs from", "the origin of {x}")),
        A("destination", "ref:city", ("the destination of {x}", "where {x} flies to", "the arrival city of {x}")),
        A("departure", "str", ("the scheduled departure time of {x}", "when {x} leaves",
                               "the departure time of {x}")),
        A("duration", "qty:min", ("the duration of {x}", "how long {x} takes", "the flight time of {x}"), 105, 960),
        A("distance", "qty:km", ("the distance flown by {x}", "how far {x} flies", "the route length of {x}"),
          250, 12000),
    ], source="timetable"),
    # ---- weather records (dated) ----------------------------------------------------------------
    _t("weather", "weather", ["weather record"], "city", [
        A("temperature", "qty:C", ("the mean temperature in {x} on {d}", "how warm it was in {x} on {d}",
                                   "the average temperature recorded in {x} on {d}"), -25, 39, 1),
        A("rainfall", "qty:mm", ("the rainfall in {x} on {d}", "how much rain fell in {x} on {d}",
                                 "the precipitation measured in {x} on {d}"), 1.1, 95, 1),
        A("wind_speed", "qty:kmh", ("the wind speed in {x} on {d}", "how strong the wind was in {x} on {d}",
                                    "the mean wind speed recorded in {x} on {d}"), 10.5, 140, 1),
    ], owner="city", source="weather archive"),
    # ---- sports results -------------------------------------------------------------------------
    _t("team", "sports", ["team", "club"], "team", [
        A("home_city", "ref:city", ("the home city of {x}", "the city {x} plays in", "where {x} is based")),
        A("coach", "ref:person", ("the coach of {x}", "who coaches {x}", "the head coach of {x}")),
        A("founded_year", "year", ("the year {x} was founded", "when {x} was formed", "the founding year of {x}"),
          1870, 2010),
        A("season_points", "int", ("the points {x} scored last season", "how many league points {x} earned last season",
                                   "{x}'s points total last season"), 100, 999),
    ], source="league office"),
    _t("match", "sports", ["match"], "team", [
        A("opponent", "ref:team", ("the opponent of {x} on {d}", "the team {x} played on {d}",
                                   "who {x} faced on {d}")),
        A("score", "str", ("the final score of the match {x} played on {d}", "how the match of {x} on {d} ended",
                           "the result of {x}'s match on {d}")),
        A("attendance", "int", ("the attendance at the match of {x} on {d}",
                                "how many spectators watched {x} play on {d}",
                                "the crowd size at {x}'s match on {d}"), 1500, 90000),
    ], owner="team", source="match reports"),
    # ---- chemistry ------------------------------------------------------------------------------
    _t("element", "chemistry", ["element", "chemical element"], "element", [
        A("symbol", "str", ("the chemical symbol of {x}", "the symbol used for {x}", "{x}'s element symbol")),
        A("atomic_number", "int", ("the atomic number of {x}", "how many protons {x} has",
                                   "the proton number of {x}"), 120, 180),
        A("atomic_mass", "float", ("the atomic mass of {x}", "the standard atomic weight of {x}",
                                   "how heavy an atom of {x} is in daltons"), 250, 480, 3),
        A("melting_point", "qty:C", ("the melting point of {x}", "the temperature at which {x} melts",
                                     "where {x} turns liquid"), -180, 3400, 1),
        A("discoverer", "ref:person", ("the discoverer of {x}", "who discovered {x}", "the person who first isolated {x}")),
    ], source="periodic table database"),
    _t("compound", "chemistry", ["compound", "chemical compound"], "compound", [
        A("main_element", "ref:element", ("the main element in {x}", "the principal element of {x}",
                                          "the element {x} is mostly made of")),
        A("molar_mass", "float", ("the molar mass of {x} in g/mol", "the molar mass of {x}",
                                  "how many grams one mole of {x} weighs"), 100, 900, 2),
        A("boiling_point", "qty:C", ("the boiling point of {x}", "the temperature at which {x} boils",
                                     "where {x} boils"), -150, 1800, 1),
    ], source="chemical handbook"),
    # ---- books and films ------------------------------------------------------------------------
    _t("book", "culture", ["book", "novel"], "title", [
        A("author", "ref:person", ("the author of {x}", "who wrote {x}", "the writer of {x}")),
        A("publication_date", "date", ("the publication date of {x}", "when {x} was published",
                                       "the day {x} came out"), 1850, 2030),
        A("pages", "int", ("the number of pages of {x}", "how many pages {x} has", "the page count of {x}"),
          110, 1400),
        A("publisher", "ref:company", ("the publisher of {x}", "the company that published {x}",
                                       "which house published {x}")),
    ], source="national library catalogue"),
    _t("film", "culture", ["film", "movie"], "film", [
        A("director", "ref:person", ("the director of {x}", "who directed {x}", "the filmmaker behind {x}")),
        A("release_date", "date", ("the release date of {x}", "when {x} premiered", "the premiere date of {x}"),
          1920, 2030),
        A("runtime", "qty:min", ("the running time of {x}", "how long {x} runs", "the length of {x}"), 100, 240),
        A("box_office", "float", ("the box-office takings of {x} in million USD", "how much {x} grossed, in millions of dollars",
                                  "the worldwide gross of {x} (USD millions)"), 1.5, 2900, 1),
        A("based_on", "ref:book", ("the book {x} is based on", "the novel {x} adapts", "the source novel of {x}")),
    ], source="film archive"),
    # ---- finance --------------------------------------------------------------------------------
    _t("currency", "finance", ["currency"], "currency", [
        A("code", "str", ("the ISO code of {x}", "the three-letter code of {x}", "the currency code of {x}")),
        A("central_bank", "str", ("the central bank that issues {x}", "the bank that issues {x}",
                                  "the issuing authority of {x}")),
        A("introduced_year", "year", ("the year {x} was introduced", "when {x} was introduced",
                                      "the year {x} came into use"), 1790, 2020),
    ], source="central bank"),
    _t("stock", "finance", ["stock", "share"], "ticker", [
        A("company", "ref:company", ("the company listed under {x}", "the company behind the ticker {x}",
                                     "which company trades as {x}")),
        A("share_price", "float", ("the closing share price of {x} in USD", "the last closing price of {x} (USD)",
                                   "what one share of {x} cost at the last close, in dollars"), 3, 2400, 2),
        A("market_cap", "float", ("the market capitalisation of {x} in billion USD",
                                  "how much {x} is worth on the market, in billions of dollars",
                                  "the market value of {x} (USD billions)"), 1.2, 950, 2),
    ], source="stock exchange"),
]}

#: The parameter a question's date is written in, for dated records.
DATE_PHRASES = ("{day} {month} {year}", "{month} {day}, {year}", "the {nth} of {month} {year}")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

#: Unit names a question or a tool uses, and conversions between them (factor to the base unit).
UNITS: dict[str, tuple[str, float]] = {
    "km": ("length", 1000.0), "mi": ("length", 1609.344), "m": ("length", 1.0), "ft": ("length", 0.3048),
    "cm": ("length", 0.01), "in": ("length", 0.0254), "mm": ("length", 0.001),
    "km2": ("area", 1.0), "mi2": ("area", 2.589988),
    "kg": ("mass", 1.0), "lb": ("mass", 0.45359237),
    "min": ("time", 60.0), "h": ("time", 3600.0),
    "kmh": ("speed", 1.0), "mph": ("speed", 1.609344),
    "C": ("temperature", 1.0), "F": ("temperature", 1.0), "K": ("temperature", 1.0),
}
#: For each unit the alternative a question may ask for, and its name in words.
ALT_UNIT = {"km": "mi", "m": "ft", "cm": "in", "km2": "mi2", "kg": "lb", "min": "h", "mm": "in",
            "kmh": "mph", "C": "F"}
UNIT_WORDS = {"km": "kilometres", "mi": "miles", "m": "metres", "ft": "feet", "cm": "centimetres", "in": "inches",
              "km2": "square kilometres", "mi2": "square miles", "kg": "kilograms", "lb": "pounds",
              "min": "minutes", "h": "hours", "mm": "millimetres", "kmh": "km/h",
              "mph": "miles per hour", "C": "degrees Celsius", "F": "degrees Fahrenheit", "K": "kelvin"}
