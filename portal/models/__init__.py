"""SQLAlchemy 2.0 typed models, shared by the portal and the ingester (no Flask here)."""

from portal.db import Base
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

__all__ = [
    "Age",
    "Asset",
    "AssetKind",
    "AssetStatus",
    "Base",
    "ContractLevel",
    "Customer",
    "DetectedBy",
    "LoginAttempt",
    "MaintenancePeriod",
    "OperatingState",
    "Outage",
    "Site",
    "SiteKind",
    "StakeholderGroup",
    "User",
    "Visit",
    "VisitKind",
    "VisitStatus",
    "age_between",
    "normalise_email",
    "user_sites",
]
