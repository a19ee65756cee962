from .calculate import Calculate
from .cancel_pending_order import CancelPendingOrder
from .find_user_id_by_email import FindUserIdByEmail
from .get_order_details import GetOrderDetails
from .transfer_to_human_agents import TransferToHumanAgents

ALL_TOOLS = [
    FindUserIdByEmail,
    GetOrderDetails,
    CancelPendingOrder,
    Calculate,
    TransferToHumanAgents,
]
