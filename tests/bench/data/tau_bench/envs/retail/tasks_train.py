from tau_bench.types import Action, Task

TASKS_TRAIN = [
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
]
