"""The stored shape of OvenAI (SQLAlchemy 2 declarative models), one module per area.

Personal data is never stored in plaintext: columns ending in `_enc` hold AES-256-GCM
ciphertext under the lead's own data key, which lives in the separate key store (see
:mod:`ovenai.keystore`); lookups by phone, BSUID or WhatsApp id go through keyed blind
indexes (`*_index`). The schema itself is made only by the Alembic migrations in
`migrations/`; keep both in step.
"""

from ovenai.models.automation import (
    AutomationFiring,
    AutomationRule,
    Notification,
    SequenceEnrolment,
)
from ovenai.models.base import (
    Base,
    Direction,
    Language,
    MeetingStatus,
    MessageStatus,
    PropertyStatus,
    Role,
    Source,
    Stage,
)
from ovenai.models.campaigns import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientOutcome,
)
from ovenai.models.engagement import ScoreChange, ScoreReason
from ovenai.models.leads import Lead, LeadNameToken, Meeting, Property
from ovenai.models.media import (
    MediaFile,
    MediaState,
    PropertyFile,
    PropertyFileRole,
    RequestedDocument,
)
from ovenai.models.messaging import (
    CohortHour,
    CohortHoursStale,
    Message,
    MessageTemplate,
    ReplyMark,
    ReplyMarkHour,
    ResponseTurn,
    ResponseTurnHour,
    ResponseTurnHoursStale,
    ResponseTurnsProgress,
    ResponseTurnsStale,
    StatusEvent,
)
from ovenai.models.operations import (
    Alert,
    GraphCallTime,
    JobLock,
    RateBucket,
    ReachedUser,
    SystemFlag,
    ThrottleCount,
)
from ovenai.models.people import ApiToken, User, UserSession
from ovenai.models.privacy import AuditEntry, ConsentEvent, DoNotContact, PrivacyRequest
from ovenai.models.views import LeadPhoneToken, LeadView
from ovenai.models.webhooks import (
    AppliedItem,
    WebhookEvent,
    WebhookEventLead,
    WebhookHour,
    WebhookHoursStale,
    WebhookItemFailure,
)

__all__ = [
    "Alert",
    "ApiToken",
    "AppliedItem",
    "AuditEntry",
    "AutomationFiring",
    "AutomationRule",
    "Base",
    "Campaign",
    "CampaignRecipient",
    "CampaignStatus",
    "ConsentEvent",
    "Direction",
    "DoNotContact",
    "GraphCallTime",
    "JobLock",
    "Language",
    "Lead",
    "LeadNameToken",
    "LeadPhoneToken",
    "LeadView",
    "MediaFile",
    "MediaState",
    "Meeting",
    "MeetingStatus",
    "Message",
    "MessageStatus",
    "MessageTemplate",
    "Notification",
    "PrivacyRequest",
    "Property",
    "PropertyFile",
    "PropertyFileRole",
    "PropertyStatus",
    "RateBucket",
    "ReachedUser",
    "RecipientOutcome",
    "RequestedDocument",
    "ReplyMark",
    "ReplyMarkHour",
    "ResponseTurn",
    "CohortHour",
    "CohortHoursStale",
    "ResponseTurnsProgress",
    "ResponseTurnHour",
    "ResponseTurnHoursStale",
    "ResponseTurnsStale",
    "Role",
    "ScoreChange",
    "ScoreReason",
    "SequenceEnrolment",
    "Source",
    "Stage",
    "StatusEvent",
    "SystemFlag",
    "ThrottleCount",
    "User",
    "UserSession",
    "WebhookEvent",
    "WebhookEventLead",
    "WebhookHour",
    "WebhookHoursStale",
    "WebhookItemFailure",
]
