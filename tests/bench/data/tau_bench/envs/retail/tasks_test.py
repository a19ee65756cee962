from tau_bench.types import Action, Task

TASKS_TEST = [
    Task(
        annotator="0",
        user_id="ana_lopez_1010",
        instruction="You are Ana Lopez (ana.lopez@example.com). You want to cancel your pending order #W100 because you no longer need it.",
        actions=[
            Action(name="find_user_id_by_email", kwargs={'email': 'ana.lopez@example.com'}),
            Action(name="get_order_details", kwargs={'order_id': '#W100'}),
            Action(name="cancel_pending_order", kwargs={'order_id': '#W100', 'reason': 'no longer needed'}),
        ],
        outputs=[],
    ),
    Task(
        annotator="0",
        user_id="ana_lopez_1010",
        instruction="You are Ana Lopez (ana.lopez@example.com). You want to know how much your delivered order #W101 cost in total.",
        actions=[
            Action(name="find_user_id_by_email", kwargs={'email': 'ana.lopez@example.com'}),
            Action(name="get_order_details", kwargs={'order_id': '#W101'}),
        ],
        outputs=["22"],
    ),
    Task(
        annotator="0",
        user_id="ben_okafor_2020",
        instruction="You are Ben Okafor (ben.okafor@example.com). You want to cancel order #W200. If the agent says it cannot be cancelled, ask for a human.",
        actions=[
            Action(name="find_user_id_by_email", kwargs={'email': 'ben.okafor@example.com'}),
            Action(name="get_order_details", kwargs={'order_id': '#W200'}),
            Action(name="transfer_to_human_agents", kwargs={'summary': 'The user wants to cancel a processed order.'}),
        ],
        outputs=[],
    ),
]
