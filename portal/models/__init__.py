"""SQLAlchemy 2.0 typed models, shared by the portal and the ingester (no Flask here)."""

from portal.db import Base
from portal.models.feedback import (
    Audience,
    Feedback,
    FeedbackCategory,
    FeedbackRead,
    FeedbackReply,
    FeedbackStatus,
)
from portal.models.operations import (
    AssetStatus,
    DetectedBy,
    MaintenancePeriod,
    OperatingState,
    Outage,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.models.organisation import (
    MQTT_ID_RE,
    Age,
    Asset,
    AssetKind,
    ContractLevel,
    Customer,
    Site,
    SiteKind,
    age_between,
)
from portal.models.people import LoginAttempt, StakeholderGroup, User, normalise_email, user_sites
from portal.models.satisfaction import (
    FollowUp,
    FollowUpStatus,
    Moment,
    PromptState,
    SurveyKind,
    SurveyPrompt,
    SurveyResponse,
)
from portal.models.telemetry import DeadLetter, StatusChange

__all__ = [
    "MQTT_ID_RE",
    "Age",
    "Asset",
    "AssetKind",
    "AssetStatus",
    "Audience",
    "Base",
    "ContractLevel",
    "Customer",
    "DeadLetter",
    "DetectedBy",
    "Feedback",
    "FeedbackCategory",
    "FeedbackRead",
    "FeedbackReply",
    "FeedbackStatus",
    "FollowUp",
    "FollowUpStatus",
    "LoginAttempt",
    "MaintenancePeriod",
    "Moment",
    "OperatingState",
    "Outage",
    "PromptState",
    "Site",
    "SiteKind",
    "StakeholderGroup",
    "StatusChange",
    "SurveyKind",
    "SurveyPrompt",
    "SurveyResponse",
    "User",
    "Visit",
    "VisitKind",
    "VisitStatus",
    "age_between",
    "normalise_email",
    "user_sites",
]
