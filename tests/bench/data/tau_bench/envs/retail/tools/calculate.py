from typing import Any

from tau_bench.envs.tool import Tool


class Calculate(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], expression: str) -> str:
        if not all(char in "0123456789+-*/(). " for char in expression):
            return "Error: invalid characters in expression"
        return str(round(float(eval(expression, {"__builtins__": None}, {})), 2))

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "calculate",
                "description": "Calculate the result of a mathematical expression.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "expression": {
                            "type": "string",
                            "description": "The expression, such as '2 + 2'."
                        }
                    },
                    "required": [
                        "expression"
                    ]
                }
            }
        }
