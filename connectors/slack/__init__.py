"""Slack: `slack-messages`, `slack-channels`, `slack-users` (vendors.md §1)."""

from connectors.slack.models import Channel, Message, User
from connectors.slack.streams import open_channels, open_messages, open_users
from pipeline import Stream, register
from sinks.tables import slack_channels, slack_messages, slack_users

messages = register(
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
channels = register(
    Stream(
        connector="slack",
        name="channels",
        entity="channel",
        table=slack_channels,
        model=Channel,
        open_source=open_channels,
        description="conversations (public and private)",
    )
)
users = register(
    Stream(
        connector="slack",
        name="users",
        entity="user",
        table=slack_users,
        model=User,
        open_source=open_users,
        description="workspace members (deactivated ones keep deleted=true)",
    )
)
