import json
from typing import Any

from tau_bench.envs.tool import Tool


class CancelPendingOrder(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], order_id: str, reason: str) -> str:
        orders = data["orders"]
        if order_id not in orders:
            return "Error: order not found"
        order = orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be cancelled"
        if reason not in ["no longer needed", "ordered by mistake"]:
            return "Error: invalid reason"
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        return json.dumps(order)

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "cancel_pending_order",
                "description": "Cancel a pending order. If the order is already processed or delivered, it cannot be cancelled.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "order_id": {
                            "type": "string",
                            "description": "The order id, such as '#W0000000'."
                        },
                        "reason": {
                            "type": "string",
                            "enum": [
                                "no longer needed",
                                "ordered by mistake"
                            ],
                            "description": "The reason for cancellation."
                        }
                    },
                    "required": [
                        "order_id",
                        "reason"
                    ]
                }
            }
        }
