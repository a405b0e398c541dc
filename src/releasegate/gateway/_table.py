"""The route table: every HTTP route of the gateway, one row each.

To add a route: write its request and response models (pydantic, text fields typed `Text`), a
handler factory `(Gateway) -> Route`, and append a row here. `create_app` registers it,
`/openapi.json` documents it, and the pipeline validates, authorizes, meters, guards and audits
it like every other route. docs/gateway.md ("Adding a route") walks through an example.
"""

from __future__ import annotations

from releasegate.gateway._access import (
    accept_terms_route,
    application_status_route,
    apply_route,
    approve_route,
    claim_route,
    comment_route,
    create_principal_route,
    deny_route,
    list_applications_route,
    list_principals_route,
    list_tokens_route,
    principal_token_route,
    publish_terms_route,
    renew_route,
    revoke_token_route,
    set_roles_route,
    show_application_route,
    show_terms_route,
    suspend_principal_route,
    tiers_route,
    unsuspend_principal_route,
)
from releasegate.gateway._access_models import (
    AcceptTermsRequest,
    ApplicableTierList,
    ApplicationList,
    ApplicationOut,
    ApplicationQuery,
    ApplicationRequest,
    ApplicationStatusOut,
    ApplicationSubmitted,
    ApproveRequest,
    CommentRequest,
    CreatePrincipalRequest,
    DenyRequest,
    KeyClaimed,
    PrincipalCreated,
    PrincipalList,
    PrincipalOut,
    PublishTermsRequest,
    RenewRequest,
    SetRolesRequest,
    SuspendPrincipalRequest,
    TermsOut,
    TokenList,
    TokenOut,
)
from releasegate.gateway._admin import (
    create_key_route,
    list_incidents_route,
    list_keys_route,
    metrics_route,
    resolve_incident_route,
    revoke_key_route,
    rotate_key_route,
    show_incident_route,
    suspend_key_route,
)
from releasegate.gateway._admin_models import (
    CreateKeyRequest,
    IncidentList,
    IncidentOut,
    IncidentQuery,
    Key,
    KeyCreated,
    KeyList,
    ResolveIncidentRequest,
    SuspendKeyRequest,
)
from releasegate.gateway._finetune import (
    cancel_job_route,
    create_job_route,
    delete_file_route,
    job_events_route,
    list_files_route,
    list_jobs_route,
    show_file_route,
    show_job_route,
    upload_file_route,
)
from releasegate.gateway._finetune_models import (
    CreateJobRequest,
    EventList,
    EventListQuery,
    FileDeleted,
    FileList,
    FileObject,
    FileUploadRequest,
    FineTuningJob,
    JobList,
    JobListQuery,
)
from releasegate.gateway._openai_models import (
    ChatCompletion,
    ChatCompletionRequest,
    CompletionRequest,
    ModelList,
    TextCompletion,
)
from releasegate.gateway._research import hidden_states_route, logit_lens_route, steer_route
from releasegate.gateway._research_models import (
    HiddenStatesRequest,
    HiddenStatesResponse,
    LogitLensRequest,
    LogitLensResponse,
    SteerRequest,
    SteerResponse,
)
from releasegate.gateway._routes import chat_route, completions_route, models_route
from releasegate.gateway._row import RateLimit, Requires, RouteRow
from releasegate.gateway._stage_models import (
    PromoteRequest,
    RollbackRequest,
    StageStatusOut,
    StageTransitionOut,
)
from releasegate.gateway._stage_routes import (
    stage_promote_route,
    stage_rollback_route,
    stage_status_route,
)
from releasegate.gateway._state import Gateway

KEY = Requires.key()
RESEARCH = Requires.key("research")
FINE_TUNING = Requires.key("fine_tuning")
TIER = RateLimit.tier()
TRAINING = RateLimit.training()
# Admin actions are metered too (no route bypasses the pipeline), generously.
ADMIN_RATE = RateLimit.per_minute(600)
# Anonymous routes, per client address: filing an application is rarer than reading status.
APPLY_RATE = RateLimit.per_minute(10)
PUBLIC_RATE = RateLimit.per_minute(60)
PUBLIC = Requires.public()

# Who may do what (docs/access.md has the table; tests/access/test_roles.py asserts it).
ADMIN = Requires.admin()
READERS = Requires.staff("admin", "auditor", "reviewer", "release_lead", "safety_lead")
REVIEWERS = Requires.staff("admin", "reviewer", "release_lead", "safety_lead")
REVIEW_READERS = Requires.staff("admin", "auditor", "reviewer", "release_lead", "safety_lead")
SUSPENDERS = Requires.staff("admin", "reviewer", "safety_lead")
SAFETY = Requires.staff("admin", "safety_lead")
OVERSEERS = Requires.staff("admin", "auditor", "release_lead", "safety_lead")
TERMS_PUBLISHERS = Requires.staff("admin", "release_lead")
PRINCIPAL_READERS = Requires.staff("admin", "auditor")
PROMOTERS = Requires.staff("admin", "release_lead")
ROLLERS_BACK = Requires.staff("admin", "release_lead", "safety_lead")

OPENAI = ("OpenAI-compatible",)
RESEARCH_TAG = ("research",)
FT_TAG = ("fine-tuning",)
KEYS = ("admin: keys",)
OVERSIGHT = ("admin: monitoring",)
PRINCIPALS = ("admin: principals",)
REVIEW = ("admin: access review",)
ACCESS = ("access programme",)
STAGES = ("admin: staged release",)

ROUTES: tuple[RouteRow[Gateway], ...] = (
    # -- OpenAI-compatible -------------------------------------------------------------------
    RouteRow(
        "POST", "/v1/chat/completions", chat_route, name="chat.completions",
        request=ChatCompletionRequest, response=ChatCompletion, requires=KEY, rate_limit=TIER,
        summary="Chat completion (streams with stream: true)", tags=OPENAI,
    ),
    RouteRow(
        "POST", "/v1/completions", completions_route, name="completions",
        request=CompletionRequest, response=TextCompletion, requires=KEY, rate_limit=TIER,
        summary="Text completion (legacy; streams with stream: true)", tags=OPENAI,
    ),
    RouteRow(
        "GET", "/v1/models", models_route, name="models",
        request=None, response=ModelList, requires=KEY, rate_limit=TIER,
        summary="The models this key's tier may use", tags=OPENAI,
    ),
    # -- research (tier capability `research`) -------------------------------------------------
    RouteRow(
        "POST", "/v1/research/hidden_states", hidden_states_route, name="research.hidden_states",
        request=HiddenStatesRequest, response=HiddenStatesResponse, requires=RESEARCH,
        rate_limit=TIER, summary="Residual-stream activations of a text", tags=RESEARCH_TAG,
    ),
    RouteRow(
        "POST", "/v1/research/logit_lens", logit_lens_route, name="research.logit_lens",
        request=LogitLensRequest, response=LogitLensResponse, requires=RESEARCH,
        rate_limit=TIER, summary="Each layer read through the unembedding", tags=RESEARCH_TAG,
    ),
    RouteRow(
        "POST", "/v1/research/steer", steer_route, name="research.steer",
        request=SteerRequest, response=SteerResponse, requires=RESEARCH, rate_limit=TIER,
        summary="Generate while adding a steering vector at a layer", tags=RESEARCH_TAG,
    ),
    # -- fine-tuning (tier capability `fine_tuning`) -------------------------------------------
    RouteRow(
        "POST", "/v1/files", upload_file_route, name="files.create",
        request=FileUploadRequest, response=FileObject, requires=FINE_TUNING, rate_limit=TIER,
        summary="Upload a JSONL training file (screened by the tier's guards)", tags=FT_TAG,
        body_format="multipart",
    ),
    RouteRow(
        "GET", "/v1/files", list_files_route, name="files.list",
        request=None, response=FileList, requires=FINE_TUNING, rate_limit=TIER,
        summary="This key owner's training files", tags=FT_TAG,
    ),
    RouteRow(
        "GET", "/v1/files/{file_id}", show_file_route, name="files.show",
        request=None, response=FileObject, requires=FINE_TUNING, rate_limit=TIER,
        summary="A training file (its screening result included)", tags=FT_TAG,
    ),
    RouteRow(
        "DELETE", "/v1/files/{file_id}", delete_file_route, name="files.delete",
        request=None, response=FileDeleted, requires=FINE_TUNING, rate_limit=TIER,
        summary="Delete a training file", tags=FT_TAG,
    ),
    RouteRow(
        "POST", "/v1/fine_tuning/jobs", create_job_route, name="fine_tuning.jobs.create",
        request=CreateJobRequest, response=FineTuningJob, requires=FINE_TUNING,
        rate_limit=TRAINING, summary="Create a fine-tuning job (training tokens reserved)",
        tags=FT_TAG,
    ),
    RouteRow(
        "GET", "/v1/fine_tuning/jobs", list_jobs_route, name="fine_tuning.jobs.list",
        request=JobListQuery, response=JobList, requires=FINE_TUNING, rate_limit=TIER,
        summary="This key owner's fine-tuning jobs, newest first", tags=FT_TAG,
    ),
    RouteRow(
        "GET", "/v1/fine_tuning/jobs/{job_id}", show_job_route, name="fine_tuning.jobs.show",
        request=None, response=FineTuningJob, requires=FINE_TUNING, rate_limit=TIER,
        summary="A fine-tuning job", tags=FT_TAG,
    ),
    RouteRow(
        "GET", "/v1/fine_tuning/jobs/{job_id}/events", job_events_route,
        name="fine_tuning.jobs.events", request=EventListQuery, response=EventList,
        requires=FINE_TUNING, rate_limit=TIER, summary="A job's events, newest first",
        tags=FT_TAG,
    ),
    RouteRow(
        "POST", "/v1/fine_tuning/jobs/{job_id}/cancel", cancel_job_route,
        name="fine_tuning.jobs.cancel", request=None, response=FineTuningJob,
        requires=FINE_TUNING, rate_limit=TIER, summary="Cancel a job that has not finished",
        tags=FT_TAG,
    ),
    # -- admin: keys ---------------------------------------------------------------------------
    RouteRow(
        "POST", "/admin/keys", create_key_route, name="keys.create",
        request=CreateKeyRequest, response=KeyCreated, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Create a key (its plaintext is returned this once)", tags=KEYS,
    ),
    RouteRow(
        "GET", "/admin/keys", list_keys_route, name="keys.list",
        request=None, response=KeyList, requires=READERS, rate_limit=ADMIN_RATE,
        summary="List keys", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/revoke", revoke_key_route, name="keys.revoke",
        request=None, response=Key, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Revoke a key (refused by every process within a second)", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/rotate", rotate_key_route, name="keys.rotate",
        request=None, response=KeyCreated, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Replace a key by a new one with the same tier, owner and limits", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/suspend", suspend_key_route, name="keys.suspend",
        request=SuspendKeyRequest, response=Key, requires=SUSPENDERS, rate_limit=ADMIN_RATE,
        summary="Suspend a key", body_optional=True, tags=KEYS,
    ),
    # -- admin: monitoring ---------------------------------------------------------------------
    RouteRow(
        "GET", "/metrics", metrics_route, name="metrics",
        request=None, response=None, requires=OVERSEERS, rate_limit=ADMIN_RATE,
        summary="Prometheus metrics", media_type="text/plain; version=0.0.4", tags=OVERSIGHT,
    ),
    RouteRow(
        "GET", "/admin/incidents", list_incidents_route, name="incidents.list",
        request=IncidentQuery, response=IncidentList, requires=REVIEW_READERS,
        rate_limit=ADMIN_RATE,
        summary="List misuse incidents", tags=OVERSIGHT,
    ),
    RouteRow(
        "GET", "/admin/incidents/{incident_id}", show_incident_route, name="incidents.show",
        request=None, response=IncidentOut, requires=REVIEW_READERS, rate_limit=ADMIN_RATE,
        summary="Show an incident", tags=OVERSIGHT,
    ),
    RouteRow(
        "POST", "/admin/incidents/{incident_id}/resolve", resolve_incident_route,
        name="incidents.resolve", request=ResolveIncidentRequest, response=IncidentOut,
        requires=SAFETY, rate_limit=ADMIN_RATE, summary="Resolve an incident", tags=OVERSIGHT,
    ),
    # -- the access programme: applicants (no key; the claim token) ------------------------------
    RouteRow(
        "GET", "/v1/access/tiers", tiers_route, name="access.tiers",
        request=None, response=ApplicableTierList, requires=PUBLIC, rate_limit=PUBLIC_RATE,
        summary="Tiers that take applications: form, review rule, terms, open now", tags=ACCESS,
    ),
    RouteRow(
        "POST", "/v1/access/applications", apply_route, name="access.apply",
        request=ApplicationRequest, response=ApplicationSubmitted, requires=PUBLIC,
        rate_limit=APPLY_RATE, summary="Apply for a key of a tier (returns the claim token once)",
        tags=ACCESS,
    ),
    RouteRow(
        "GET", "/v1/access/applications/{application_id}", application_status_route,
        name="access.status", request=None, response=ApplicationStatusOut, requires=PUBLIC,
        rate_limit=PUBLIC_RATE, summary="An application's status (Bearer: its claim token)",
        tags=ACCESS,
    ),
    RouteRow(
        "POST", "/v1/access/applications/{application_id}/claim", claim_route,
        name="access.claim", request=None, response=KeyClaimed, requires=PUBLIC,
        rate_limit=APPLY_RATE, summary="Claim the key of an approved application, once",
        tags=ACCESS,
    ),
    RouteRow(
        "POST", "/v1/access/applications/{application_id}/renew", renew_route,
        name="access.renew", request=RenewRequest, response=ApplicationSubmitted,
        requires=PUBLIC, rate_limit=APPLY_RATE, body_optional=True,
        summary="Apply again, pre-filled from this (claimed) application", tags=ACCESS,
    ),
    RouteRow(
        "GET", "/v1/access/terms/{tier}", show_terms_route, name="access.terms",
        request=None, response=TermsOut, requires=PUBLIC, rate_limit=PUBLIC_RATE,
        summary="The tier's terms in force", tags=ACCESS,
    ),
    RouteRow(
        "POST", "/v1/access/terms/{tier}/accept", accept_terms_route, name="access.terms.accept",
        request=AcceptTermsRequest, response=TermsOut, requires=Requires.key(terms=False),
        rate_limit=TIER, summary="Accept the tier's current terms (with the key)", tags=ACCESS,
    ),
    # -- admin: access review ------------------------------------------------------------------
    RouteRow(
        "GET", "/admin/access/applications", list_applications_route,
        name="applications.list", request=ApplicationQuery, response=ApplicationList,
        requires=REVIEW_READERS, rate_limit=ADMIN_RATE, summary="List applications",
        tags=REVIEW,
    ),
    RouteRow(
        "GET", "/admin/access/applications/{application_id}", show_application_route,
        name="applications.show", request=None, response=ApplicationOut,
        requires=REVIEW_READERS, rate_limit=ADMIN_RATE,
        summary="Show an application with its reviews", tags=REVIEW,
    ),
    RouteRow(
        "POST", "/admin/access/applications/{application_id}/comment", comment_route,
        name="applications.comment", request=CommentRequest, response=ApplicationOut,
        requires=REVIEWERS, rate_limit=ADMIN_RATE, summary="Comment on an application",
        tags=REVIEW,
    ),
    RouteRow(
        "POST", "/admin/access/applications/{application_id}/approve", approve_route,
        name="applications.approve", request=ApproveRequest, response=ApplicationOut,
        requires=REVIEWERS, rate_limit=ADMIN_RATE, body_optional=True,
        summary="Approve (counts toward the tier's N reviewers of its role)", tags=REVIEW,
    ),
    RouteRow(
        "POST", "/admin/access/applications/{application_id}/deny", deny_route,
        name="applications.deny", request=DenyRequest, response=ApplicationOut,
        requires=REVIEWERS, rate_limit=ADMIN_RATE,
        summary="Deny with a reason category (shown to the applicant) and a reason", tags=REVIEW,
    ),
    RouteRow(
        "POST", "/admin/access/terms/{tier}", publish_terms_route, name="terms.publish",
        request=PublishTermsRequest, response=TermsOut, requires=TERMS_PUBLISHERS,
        rate_limit=ADMIN_RATE,
        summary="Publish a new version of a tier's terms (keys refused until accepted)",
        tags=REVIEW,
    ),
    # -- admin: principals ---------------------------------------------------------------------
    RouteRow(
        "GET", "/admin/principals", list_principals_route, name="principals.list",
        request=None, response=PrincipalList, requires=PRINCIPAL_READERS,
        rate_limit=ADMIN_RATE, summary="List principals", tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals", create_principal_route, name="principals.create",
        request=CreatePrincipalRequest, response=PrincipalCreated, requires=ADMIN,
        rate_limit=ADMIN_RATE, summary="Create a principal (its token is returned this once)",
        tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals/{principal_id}/tokens", principal_token_route,
        name="principals.token", request=None, response=PrincipalCreated, requires=ADMIN,
        rate_limit=ADMIN_RATE, summary="Issue another token to a principal (shown once)",
        tags=PRINCIPALS,
    ),
    RouteRow(
        "GET", "/admin/principals/{principal_id}/tokens", list_tokens_route,
        name="principals.tokens", request=None, response=TokenList, requires=ADMIN,
        rate_limit=ADMIN_RATE, summary="A principal's tokens (never the tokens themselves)",
        tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals/{principal_id}/tokens/{token_id}/revoke", revoke_token_route,
        name="principals.revoke_token", request=None, response=TokenOut, requires=ADMIN,
        rate_limit=ADMIN_RATE, summary="Revoke one of a principal's tokens", tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals/{principal_id}/roles", set_roles_route,
        name="principals.roles", request=SetRolesRequest, response=PrincipalOut,
        requires=ADMIN, rate_limit=ADMIN_RATE, summary="Replace a principal's roles",
        tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals/{principal_id}/suspend", suspend_principal_route,
        name="principals.suspend", request=SuspendPrincipalRequest, response=PrincipalOut,
        requires=SUSPENDERS, rate_limit=ADMIN_RATE,
        summary="Suspend a principal: its tokens and every key issued to it", tags=PRINCIPALS,
    ),
    RouteRow(
        "POST", "/admin/principals/{principal_id}/unsuspend", unsuspend_principal_route,
        name="principals.unsuspend", request=None, response=PrincipalOut, requires=ADMIN,
        rate_limit=ADMIN_RATE, summary="Lift a principal's suspension", tags=PRINCIPALS,
    ),
    # -- admin: staged release -----------------------------------------------------------------
    RouteRow(
        "GET", "/admin/stage", stage_status_route, name="stage.status",
        request=None, response=StageStatusOut, requires=READERS, rate_limit=ADMIN_RATE,
        summary="The current stage, time in it, and each item of the next gate", tags=STAGES,
    ),
    RouteRow(
        "POST", "/admin/stage/promote", stage_promote_route, name="stage.promote",
        request=PromoteRequest, response=StageTransitionOut, requires=PROMOTERS,
        rate_limit=ADMIN_RATE, tags=STAGES,
        summary="Record signed sign-offs, then enter the next stage if its gate is met (409 "
        "gate_unmet lists what is not)",
    ),
    RouteRow(
        "POST", "/admin/stage/rollback", stage_rollback_route, name="stage.rollback",
        request=RollbackRequest, response=StageTransitionOut, requires=ROLLERS_BACK,
        rate_limit=ADMIN_RATE, tags=STAGES,
        summary="Step back to an earlier stage (every gateway within a second)",
    ),
)  # fmt: skip

__all__ = ["ROUTES"]
