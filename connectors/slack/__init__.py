"""Slack: `slack-messages`, `slack-channels`, `slack-users` (vendors.md §1)."""

from typing import Any

from connectors.slack.client import page_limit, slack
from connectors.slack.models import Channel, Message, User
from connectors.slack.streams import open_messages
from connectors.slack.tables import slack_channels, slack_messages, slack_users
from connectors.slack.webhooks import SlackWebhooks
from pipeline import CursorPaginator, RestStream, ScopeCheckpoint, Stream

messages = slack.add(
    Stream(
        connector="slack",
        name="messages",
        entity="message",
        table=slack_messages,
        model=Message,
        open_source=open_messages,
        unordered=frozenset({"reactions", "reply_users"}),
        description="messages and thread replies of the channels the bot is in",
    )
)

# vendors.md §1.2: list methods page by `response_metadata.next_cursor`; an empty one ends the walk.
SLACK_PAGES = CursorPaginator(next_at="response_metadata.next_cursor", param="cursor")


@slack.stream
class Channels(RestStream[Channel]):
    """conversations (public and private)"""

    name, entity, model, table = "channels", "channel", Channel, slack_channels
    path, records_at, paginator = "conversations.list", "channels", SLACK_PAGES

    def params(self, checkpoint: ScopeCheckpoint) -> dict[str, Any]:
        return {"types": "public_channel,private_channel", "limit": page_limit(self.client)}


@slack.stream
class Users(RestStream[User]):
    """workspace members (deactivated ones keep deleted=true)"""

    name, entity, model, table = "users", "user", User, slack_users
    path, records_at, paginator = "users.list", "members", SLACK_PAGES

    def params(self, checkpoint: ScopeCheckpoint) -> dict[str, Any]:
        return {"limit": page_limit(self.client)}


channels = Channels
users = Users
slack.webhook = SlackWebhooks()  # POST /webhooks/slack: the Events API (webhooks.py)
