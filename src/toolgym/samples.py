"""A small, hand-checked set of environments: two per scenario, in an invented world.

Used by ``toolgym demo`` and as test fixtures. Every fact is made up, so a model must call the tools.
The tool code follows the conventions of the builders: knowledge held in the code, arguments validated,
errors that say what went wrong and what is accepted -- but never list the records, or a distractor
tool's error would hand out another tool's answer (the reward-hacking probes of ``toolgym verify`` check).
Each tool function is made by a factory that receives its table or modules, and reaches them and its helpers
through its closure, so it runs the same under the paper's executor (``exec`` inside a function: the
source's top-level names are not the function's globals).
"""

from __future__ import annotations

from typing import Any

from .schema import Environment, wrap_tool


def _fn(name: str, description: str, params: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    return wrap_tool({"name": name, "description": description,
                      "parameters": {"type": "object", "properties": params, "required": required}})


def _lookup_code(name: str, key: str, table: dict[str, dict[str, Any]], fields: list[str] | None = None) -> str:
    """A lookup tool over ``table`` keyed by ``key``; with ``fields`` it takes a ``field`` argument. The table
    is a top-level statement and the tool is made by a factory that receives it (so the code, the same for
    every table, is compiled once by the sandbox)."""
    field_arg = ", field" if fields else ""
    field_check = (
        f"        if field not in {fields!r}:\n"
        f"            return f\"Error: field must be one of {', '.join(fields)}; got {{field!r}}\"\n"
        "        return {" + f"{key!r}: row['_name'], field: row[field]" + "}\n"
    ) if fields else "        return {k: v for k, v in row.items() if not k.startswith('_')}\n"
    return (
        f"DATA = {table!r}\n\n\n"
        f"def _tool(DATA):\n"
        f"    def {name}({key}{field_arg}):\n"
        f"        if not isinstance({key}, str) or not {key}.strip():\n"
        f"            return \"Error: '{key}' must be a non-empty string\"\n"
        f"        row = DATA.get({key}.strip().lower())\n"
        f"        if row is None:\n"
        f"            return f\"Error: no record for {{{key}!r}}. Check the spelling, or find the exact name with another "
        f"tool first.\"\n"
        + field_check
        + f"\n    {name}.__qualname__ = {name!r}\n    return {name}\n\n\n{name} = _tool(DATA)\n"
    )


def _table(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k.lower(): {"_name": k, **v} for k, v in rows.items()}


COUNTRIES = _table({
    "Talmeria": {"capital": "Orlay", "currency": "Talmerian crown", "population": 8410200},
    "Ostrevia": {"capital": "Brunmark", "currency": "ostrevian mark", "population": 3120950},
    "Quessa": {"capital": "Varenholm", "currency": "quessan dinar", "population": 12004431},
})
CITIES = _table({
    "Orlay": {"population": 904311, "temperature_c": 14.5, "country": "Talmeria"},
    "Brunmark": {"population": 300028, "temperature_c": -3.0, "country": "Ostrevia"},
    "Varenholm": {"population": 482113, "temperature_c": 22.1, "country": "Quessa"},
})
PRODUCTS = _table({
    "Zephyr X3": {"manufacturer": "Kestrel Dynamics", "price_usd": 1299, "release_year": 2031},
    "Aurel Lamp": {"manufacturer": "Lumen & Vale", "price_usd": 89, "release_year": 2029},
})
COMPANIES = _table({
    "Kestrel Dynamics": {"ceo": "Ilsa Brandvold", "founded": 2017, "headquarters": "Orlay"},
    "Lumen & Vale": {"ceo": "Tomas Erkin", "founded": 2004, "headquarters": "Brunmark"},
    "Quillon Labs": {"ceo": "Mara Seldt", "founded": 1998, "headquarters": "Varenholm"},
})
RIVERS = _table({
    "Ostrava Vale": {"source_country": "Talmeria", "length_km": 412},
    "Sennet": {"source_country": "Quessa", "length_km": 977},
})
BOOKS = _table({
    "The Glass Orchard": {"author": "Wenna Koll", "year": 2011},
    "Salt of Ninefold": {"author": "Ivo Tarrant", "year": 1996},
})
PEOPLE = _table({
    "Wenna Koll": {"birth_year": 1979, "nationality": "Talmerian"},
    "Ivo Tarrant": {"birth_year": 1962, "nationality": "Ostrevian"},
    "Ilsa Brandvold": {"birth_year": 1983, "nationality": "Quessan"},
})

_STR = {"type": "string"}

CALCULATE_CODE = """import ast
import operator


def _calculator(ast, operator):
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.USub: operator.neg, ast.UAdd: operator.pos}

    def _eval(node):
        if isinstance(node, ast.Expression):
            return _eval(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](_eval(node.left), _eval(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in ops:
            return ops[type(node.op)](_eval(node.operand))
        raise ValueError("only numbers, + - * / and parentheses are allowed")

    def calculate(expression):
        if not isinstance(expression, str) or not expression.strip():
            return "Error: 'expression' must be a non-empty arithmetic expression, e.g. '12 * (3 + 4)'"
        if len(expression) > 200:
            return "Error: expression too long"
        try:
            value = _eval(ast.parse(expression, mode="eval"))
        except ZeroDivisionError:
            return "Error: division by zero"
        except (SyntaxError, ValueError) as exc:
            return f"Error: cannot evaluate {expression!r}: {exc}"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return {"expression": expression, "result": value}

    calculate.__qualname__ = "calculate"
    return calculate


calculate = _calculator(ast, operator)
"""

TOOLS = {
    "calculate": (
        _fn("calculate", "Evaluate an arithmetic expression with + - * / and parentheses.",
            {"expression": {**_STR, "description": "The expression, e.g. '1979 - 1962'."}}, ["expression"]),
        CALCULATE_CODE),
    "get_country_info": (
        _fn("get_country_info", "Facts about a country.",
            {"country": {**_STR, "description": "Country name, e.g. 'Talmeria'."},
             "field": {**_STR, "enum": ["capital", "currency", "population"], "description": "Which fact."}},
            ["country", "field"]),
        _lookup_code("get_country_info", "country", COUNTRIES, ["capital", "currency", "population"])),
    "get_city_info": (
        _fn("get_city_info", "Facts about a city: population, current temperature in Celsius, country.",
            {"city": {**_STR, "description": "City name."},
             "field": {**_STR, "enum": ["population", "temperature_c", "country"], "description": "Which fact."}},
            ["city", "field"]),
        _lookup_code("get_city_info", "city", CITIES, ["population", "temperature_c", "country"])),
    "lookup_product": (
        _fn("lookup_product", "Catalogue data of a product.",
            {"product_name": {**_STR, "description": "Exact product name."},
             "field": {**_STR, "enum": ["manufacturer", "price_usd", "release_year"], "description": "Which datum."}},
            ["product_name", "field"]),
        _lookup_code("lookup_product", "product_name", PRODUCTS, ["manufacturer", "price_usd", "release_year"])),
    "get_company": (
        _fn("get_company", "Registry data of a company.",
            {"company": {**_STR, "description": "Registered company name."},
             "field": {**_STR, "enum": ["ceo", "founded", "headquarters"], "description": "Which datum."}},
            ["company", "field"]),
        _lookup_code("get_company", "company", COMPANIES, ["ceo", "founded", "headquarters"])),
    "get_river": (
        _fn("get_river", "Hydrographic data of a river: the country of its source and its length.",
            {"river": {**_STR, "description": "River name."}}, ["river"]),
        _lookup_code("get_river", "river", RIVERS)),
    "get_book": (
        _fn("get_book", "Bibliographic data of a book: author and year of publication.",
            {"title": {**_STR, "description": "Book title."}}, ["title"]),
        _lookup_code("get_book", "title", BOOKS)),
    "get_person": (
        _fn("get_person", "Biographical data of a person.",
            {"name": {**_STR, "description": "Full name."},
             "field": {**_STR, "enum": ["birth_year", "nationality"], "description": "Which datum."}},
            ["name", "field"]),
        _lookup_code("get_person", "name", PEOPLE, ["birth_year", "nationality"])),
}


def _env(scenario: str, question: str, tools: list[str], expected: dict[str, list[str]], answer: str,
         solution: list[list[tuple[str, dict[str, Any]]]], domain: str) -> Environment:
    return Environment(
        scenario=scenario, question=question,
        tools=[TOOLS[t][0] for t in tools], code={t: TOOLS[t][1] for t in tools},
        expected=expected, answer=answer,
        solution=[[{"name": n, "arguments": a} for n, a in turn] for turn in solution],
        metadata={"domain": domain, "builder": "samples", "split": "test", "data_source": f"toolgym/{scenario}"},
    )


def sample_environments() -> list[Environment]:
    """Eight environments, two per scenario."""
    return [
        _env("single_hop", "How many people live in Varenholm?", ["get_city_info", "get_country_info"],
             {"get_city_info": ["482113"]}, "482113",
             [[("get_city_info", {"city": "Varenholm", "field": "population"})]], "geography"),
        _env("single_hop", "Which company makes the Zephyr X3?", ["lookup_product", "get_company"],
             {"lookup_product": ["Kestrel Dynamics"]}, "Kestrel Dynamics",
             [[("lookup_product", {"product_name": "Zephyr X3", "field": "manufacturer"})]], "products"),
        _env("parallel_single_hop", "Which is warmer right now, Orlay or Brunmark?", ["get_city_info"],
             {"get_city_info": ["14.5", "-3.0"]}, "Orlay",
             [[("get_city_info", {"city": "Orlay", "field": "temperature_c"}),
               ("get_city_info", {"city": "Brunmark", "field": "temperature_c"})]], "weather"),
        _env("parallel_single_hop", "Which was founded first: Quillon Labs or Lumen & Vale?", ["get_company"],
             {"get_company": ["1998", "2004"]}, "Quillon Labs",
             [[("get_company", {"company": "Quillon Labs", "field": "founded"}),
               ("get_company", {"company": "Lumen & Vale", "field": "founded"})]], "companies"),
        _env("multi_hop", "What currency is used in the country where the Ostrava Vale river rises?",
             ["get_river", "get_country_info", "get_city_info"],
             {"get_river": ["Talmeria"], "get_country_info": ["Talmerian crown"]}, "Talmerian crown",
             [[("get_river", {"river": "Ostrava Vale"})],
              [("get_country_info", {"country": "Talmeria", "field": "currency"})]], "geography"),
        _env("multi_hop", "Who runs the company that manufactures the Zephyr X3?", ["lookup_product", "get_company"],
             {"lookup_product": ["Kestrel Dynamics"], "get_company": ["Ilsa Brandvold"]}, "Ilsa Brandvold",
             [[("lookup_product", {"product_name": "Zephyr X3", "field": "manufacturer"})],
              [("get_company", {"company": "Kestrel Dynamics", "field": "ceo"})]], "companies"),
        _env("parallel_multi_hop",
             "How many years apart were the authors of 'The Glass Orchard' and 'Salt of Ninefold' born?",
             ["get_book", "get_person", "calculate"],
             {"get_book": ["Wenna Koll", "Ivo Tarrant"], "get_person": ["1979", "1962"], "calculate": ["17"]}, "17",
             [[("get_book", {"title": "The Glass Orchard"}), ("get_book", {"title": "Salt of Ninefold"})],
              [("get_person", {"name": "Wenna Koll", "field": "birth_year"}),
               ("get_person", {"name": "Ivo Tarrant", "field": "birth_year"})],
              [("calculate", {"expression": "1979 - 1962"})]], "books"),
        _env("parallel_multi_hop", "What is the combined population of the capitals of Talmeria and Ostrevia?",
             ["get_country_info", "get_city_info", "calculate"],
             {"get_country_info": ["Orlay", "Brunmark"], "get_city_info": ["904311", "300028"],
              "calculate": ["1204339"]}, "1204339",
             [[("get_country_info", {"country": "Talmeria", "field": "capital"}),
               ("get_country_info", {"country": "Ostrevia", "field": "capital"})],
              [("get_city_info", {"city": "Orlay", "field": "population"}),
               ("get_city_info", {"city": "Brunmark", "field": "population"})],
              [("calculate", {"expression": "904311 + 300028"})]], "geography"),
    ]
