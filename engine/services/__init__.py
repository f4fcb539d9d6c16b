"""Use cases, one function each. The CLI, the web app and the worker call only these.

Each function opens its own unit of work, commits only when everything succeeded, and raises
engine.errors exceptions with messages fit to show a practitioner.
"""

from engine.services.calendar import add_amount, add_closure, current_calendar, list_closures
from engine.services.cases import (
    cancel_case,
    check_start,
    resume_case,
    retry_case,
    show_case,
    start_case,
    suspend_case,
)
from engine.services.definitions import library_from_files, list_definitions, publish_directory, publish_files
from engine.services.escalations import escalate_overdue, record_delay_reason
from engine.services.figures import fold_tallies
from engine.services.inbound import apply_events, list_events, replay_event, show_event
from engine.services.modelling import preview_dates, validate_diagram
from engine.services.notifications import deliver_notifications, in_app, redeliver
from engine.services.senders import add_sender, list_senders, rotate_sender, sender_keys
from engine.services.siblings import link_siblings, siblings_of, unlink_sibling
from engine.services.subscriptions import (
    add_subscription,
    deliver_webhooks,
    list_deliveries,
    list_subscriptions,
    redeliver_delivery,
    rotate_subscription_secret,
    show_subscription,
    update_subscription,
)
from engine.services.tasks import (
    assign_task,
    claim_task,
    complete_task,
    inbox,
    list_tasks,
    reassign_all,
    unclaim_task,
)
from engine.services.timers import fire_due_timers, mark_breached_deadlines
from engine.services.tokens import create_token, list_tokens, revoke_token
from engine.services.tracker import refresh_tracker

__all__ = [
    "add_amount", "add_closure", "add_sender", "apply_events", "list_events", "list_senders", "replay_event",
    "rotate_sender", "sender_keys", "show_event", "assign_task", "cancel_case", "claim_task", "complete_task",
    "current_calendar", "deliver_notifications", "escalate_overdue", "fire_due_timers", "in_app", "inbox",
    "library_from_files", "preview_dates", "validate_diagram",
    "reassign_all", "record_delay_reason", "redeliver", "list_closures", "list_definitions", "list_tasks",
    "mark_breached_deadlines", "publish_directory", "publish_files", "refresh_tracker", "resume_case", "retry_case",
    "show_case", "start_case", "suspend_case", "unclaim_task", "check_start",
    "add_subscription", "deliver_webhooks", "list_deliveries", "list_subscriptions", "redeliver_delivery",
    "rotate_subscription_secret", "show_subscription", "update_subscription", "create_token", "list_tokens",
    "revoke_token", "link_siblings", "siblings_of", "unlink_sibling", "fold_tallies",
]  # fmt: skip
