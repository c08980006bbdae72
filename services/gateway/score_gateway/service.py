"""The HTTP edge: one API for programme coordinators, trainers, partners and ops, over the
services' RPC. It owns only its users and sessions.

Roles: coordinator (everything programme staff do), trainer (their own workshops and
visits), partner (their own enrollments, reports and indicators), ops (health, indicators,
delivery log). The OpenAPI document is at /api/v1/openapi.json, readable at /api/v1/docs.
"""
from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, fields
from nameko.rpc import RpcProxy, rpc
from werkzeug.wrappers import Response

from score_coaching.schemas import BaselineCommand, VisitPlanSchema, VisitRecordCommand
from score_common.commands import Command, load
from score_common.errors import NotFound, Refused
from score_common.http import json_response
from score_common.service import ScoreService
from score_common.store import MongoStore, Repository, as_utc, utcnow
from score_enrollment.schemas import EnrollmentSchema
from score_gateway import auth, openapi
from score_gateway.api import MODULE_QUERY, Query, module_of, page_of, paginate, route
from score_gateway.auth import Forbidden, Principal, Unauthenticated
from score_gateway.models import ROLES, Session, User
from score_scheduling.schemas import AttendanceCommand, TrainerSchema, WorkshopCommand, \
    WorkshopSchema

STAFF = ("coordinator",)
EVERYONE = ROLES


class SignIn(Command):
    username = fields.String(required=True)
    password = fields.String(required=True)


class TokenSchema(Schema):
    token = fields.String()
    role = fields.String()
    expires_at = fields.DateTime()


class MeSchema(Schema):
    name = fields.String()
    role = fields.String()
    trainer_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)


class HealthSchema(Schema):
    status = fields.String()
    services = fields.Dict()


class GatewayService(ScoreService):
    name = "gateway"
    store: Repository = MongoStore(Repository, documents=[User, Session])
    enrollment = RpcProxy("enrollment")
    scheduling = RpcProxy("scheduling")
    coaching = RpcProxy("coaching")
    reporting = RpcProxy("reporting")
    notifications = RpcProxy("notifications")

    # -- who is asking ---------------------------------------------------------------------------
    def authenticate(self, request) -> Principal:
        key = request.headers.get("X-API-Key")
        if key:
            partner_id = self.enrollment.authenticate(key)
            if not partner_id:
                raise Unauthenticated("the API key is not valid (revoked, or mistyped)")
            return Principal(f"partner-key:{partner_id}", "partner", partner_id=partner_id)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send Authorization: Bearer <token> (POST /api/v1/tokens) "
                                  "or a partner's X-API-Key")
        session = Session.objects(pk=auth.token_id(token.strip())).first()
        if session is None or as_utc(session.expires_at) < utcnow():
            raise Unauthenticated("the token is unknown or has expired; sign in again")
        user = User.objects(pk=session.user).first()
        if user is None or not user.active:
            raise Unauthenticated("the user is no longer active")
        return Principal(user.pk, user.role, user.trainer_id, user.partner_id)

    @route("POST", "/tokens", summary="Sign in", tag="access", body=SignIn,
           response=TokenSchema, status=201, problems=("401",))
    def sign_in(self, request, principal, body):
        """A bearer token for a user name and password, valid for 12 hours."""
        data = load(SignIn(), body)
        user = User.objects(pk=data["username"]).first()
        if user is None or not user.active or not auth.verify_password(
                data["password"], user.password_hash):
            raise Unauthenticated("wrong user name or password")
        token = auth.new_token()
        expires = utcnow() + timedelta(hours=auth.TOKEN_HOURS)
        Session(id=auth.token_id(token), user=user.pk, expires_at=expires).save(
            force_insert=True)
        return json_response(201, {"token": token, "role": user.role,
                                   "expires_at": expires.isoformat()})

    @route("GET", "/me", roles=EVERYONE, summary="Who am I", tag="access", response=MeSchema)
    def me(self, request, principal):
        return json_response(200, MeSchema().dump(principal))

    @rpc
    def create_user(self, username: str, password: str, role: str,
                    trainer_id: str | None = None, partner_id: str | None = None) -> dict:
        """For ops (and the ops CLI): a user with a role; a trainer names their trainer id,
        a partner user their partner."""
        errors = {}
        if role not in ROLES:
            errors["role"] = [f"must be one of {', '.join(ROLES)}"]
        if len(password) < 12:
            errors["password"] = ["at least 12 characters"]
        if role == "trainer" and not trainer_id:
            errors["trainer_id"] = ["a trainer user names their trainer id"]
        if role == "partner" and not partner_id:
            errors["partner_id"] = ["a partner user names their partner"]
        if errors:
            raise Refused(errors)
        self.store.put(User, username, {"role": role, "trainer_id": trainer_id,
                                        "partner_id": partner_id, "active": True,
                                        "password_hash": auth.hash_password(password),
                                        "created_at": utcnow()})
        return {"username": username, "role": role}

    # -- health and the API document -------------------------------------------------------------
    @route("GET", "/health", summary="Health of every service", tag="ops",
           response=HealthSchema)
    def platform_health(self, request, principal):
        """Each service's own health report; 503 when any is not ok or does not answer."""
        services = {}
        for name in ("enrollment", "scheduling", "coaching", "reporting", "notifications"):
            try:
                services[name] = getattr(self, name).health()
            except Exception as exc:  # noqa: BLE001 - a service that cannot answer is down
                services[name] = {"status": "unreachable", "error": type(exc).__name__}
        ok = all(s.get("status") == "ok" for s in services.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "degraded",
                                                  "services": services})

    @route("GET", "/openapi.json", summary="This API's OpenAPI 3 document", tag="docs")
    def openapi_document(self, request, principal):
        return json_response(200, openapi.document())

    @route("GET", "/docs", summary="This API, readable", tag="docs", content_type="text/html")
    def docs_page(self, request, principal):
        return Response(openapi.html(), status=200, content_type="text/html; charset=utf-8")

    # -- workshops and trainers ------------------------------------------------------------------
    def _trainer_may_see(self, principal: Principal, workshop: dict) -> None:
        if principal.role == "trainer" and principal.trainer_id not in workshop["trainer_ids"]:
            raise Forbidden(f"{workshop['workshop_id']} is not one of your workshops")

    @route("GET", "/workshops", roles=("coordinator", "trainer", "ops"), summary="List workshops",
           tag="workshops", response=WorkshopSchema, many=True, paginated=True,
           query=(MODULE_QUERY, Query("province"), Query("partner_id"),
                  Query("status", enum=("planned", "completed", "cancelled"))))
    def list_workshops(self, request, principal):
        """A trainer sees only the workshops they teach."""
        args = request.args
        found = self.scheduling.list_workshops(
            module=module_of(request), province=args.get("province") or None,
            partner_id=args.get("partner_id") or None, status=args.get("status") or None)
        if principal.role == "trainer":
            found = [w for w in found if principal.trainer_id in w["trainer_ids"]]
        return json_response(200, paginate(found, request))

    @route("GET", "/workshops/<string:workshop_id>", roles=("coordinator", "trainer", "ops"),
           summary="Show a workshop", tag="workshops", response=WorkshopSchema)
    def get_workshop(self, request, principal, workshop_id):
        workshop = self.scheduling.get_workshop(workshop_id)
        self._trainer_may_see(principal, workshop)
        return json_response(200, workshop)

    @route("POST", "/workshops", roles=STAFF, summary="Schedule a workshop", tag="workshops",
           body=WorkshopCommand, response=WorkshopSchema, status=201)
    def schedule_workshop(self, request, principal, body):
        return json_response(201, self.scheduling.schedule_workshop(body, principal.actor))

    @route("POST", "/workshops/<string:workshop_id>/attendance", roles=("coordinator", "trainer"),
           summary="Record attendance", tag="workshops", body=AttendanceCommand,
           response=WorkshopSchema)
    def record_attendance(self, request, principal, workshop_id, body):
        """A trainer records attendance only for a workshop they teach."""
        self._trainer_may_see(principal, self.scheduling.get_workshop(workshop_id))
        return json_response(200, self.scheduling.record_attendance(workshop_id, body,
                                                                    principal.actor))

    @route("GET", "/trainers", roles=("coordinator", "ops"), summary="List trainers",
           tag="workshops", response=TrainerSchema, many=True, paginated=True)
    def list_trainers(self, request, principal):
        return json_response(200, paginate(self.scheduling.list_trainers(), request))

    # -- enrollments -----------------------------------------------------------------------------
    @route("GET", "/enrollments", roles=("coordinator", "partner", "ops"),
           summary="List enrollments", tag="enrollments", response=EnrollmentSchema, many=True,
           paginated=True, query=(Query("partner_id"), Query("status"),
                                  MODULE_QUERY, Query("enterprise_id")))
    def list_enrollments(self, request, principal):
        """A partner sees only its own enrollments, whatever partner_id it asks for."""
        limit, offset = page_of(request)
        args = request.args
        partner_id = principal.partner_id if principal.role == "partner" \
            else args.get("partner_id") or None
        return json_response(200, self.enrollment.list_enrollments(
            partner_id=partner_id, status=args.get("status") or None,
            module=module_of(request),
            enterprise_id=args.get("enterprise_id") or None, limit=limit, offset=offset))

    @route("GET", "/enrollments/<string:enrollment_id>", roles=("coordinator", "partner", "ops"),
           summary="Show an enrollment", tag="enrollments", response=EnrollmentSchema)
    def get_enrollment(self, request, principal, enrollment_id):
        found = self.enrollment.get_enrollment(enrollment_id)
        if found is None or (principal.role == "partner"
                             and found["partner_id"] != principal.partner_id):
            raise NotFound(f"no enrollment {enrollment_id}")  # not even whether it exists
        return json_response(200, found)

    @route("GET", "/enterprises/<string:enterprise_id>", roles=("coordinator", "partner", "ops"),
           summary="Show an enterprise", tag="enrollments")
    def get_enterprise(self, request, principal, enterprise_id):
        """With its enrollments; a partner sees an enterprise only through its own
        enrollments of it."""
        found = self.enrollment.get_enterprise(enterprise_id)
        if found is not None and principal.role == "partner":
            mine = [e for e in found["enrollments"] if e["partner_id"] == principal.partner_id]
            found = {**found, "enrollments": mine} if mine else None
        if found is None:
            raise NotFound(f"no enterprise {enterprise_id}")
        return json_response(200, found)

    # -- coaching --------------------------------------------------------------------------------
    def _plan_for(self, principal: Principal, plan_id: str) -> dict:
        plan = self.coaching.get_visit_plan(plan_id)
        if plan is None:
            raise NotFound(f"no visit plan {plan_id}")
        if principal.role == "trainer" and principal.trainer_id not in (
                {plan["trainer_id"]} | {v.get("trainer_id") for v in plan["visits"]}):
            raise Forbidden(f"{plan_id} is not a plan you coach")
        return plan

    @route("GET", "/visit-plans/<string:plan_id>", roles=("coordinator", "trainer"),
           summary="Show a visit plan", tag="coaching", response=VisitPlanSchema)
    def get_visit_plan(self, request, principal, plan_id):
        return json_response(200, self._plan_for(principal, plan_id))

    @route("POST", "/visit-plans/<string:plan_id>/baseline", roles=("coordinator", "trainer"),
           summary="Record the baseline", tag="coaching", body=BaselineCommand,
           response=VisitPlanSchema)
    def record_baseline(self, request, principal, plan_id, body):
        self._plan_for(principal, plan_id)
        return json_response(200, self.coaching.record_baseline(plan_id, body,
                                                                principal.actor))

    @route("POST", "/visits/<string:visit_id>/record", roles=("trainer",),
           summary="Record a visit", tag="coaching", body=VisitRecordCommand,
           response=VisitPlanSchema)
    def record_visit(self, request, principal, visit_id, body):
        """Only the visit's own trainer records it (coaching checks it is theirs)."""
        return json_response(200, self.coaching.record_visit(visit_id, body,
                                                             principal.trainer_id))

    # -- results ---------------------------------------------------------------------------------
    @route("GET", "/indicators", roles=("coordinator", "partner", "ops"),
           summary="Programme indicators", tag="results",
           query=(MODULE_QUERY, Query("province"), Query("partner_id"),
                  Query("sector"), Query("period_from", description="ISO day"),
                  Query("period_to", description="ISO day")))
    def indicators(self, request, principal):
        """A partner sees the indicators of its own enterprises only."""
        filters = {k: request.args.get(k) for k in (
            "module", "province", "partner_id", "sector", "period_from", "period_to")}
        if principal.role == "partner":
            filters["partner_id"] = principal.partner_id
        return json_response(200, self.reporting.indicators(filters))

    @route("GET", "/reports/<string:report_id>", roles=("coordinator", "partner"),
           summary="An enterprise's improvement report", tag="results")
    def enterprise_report(self, request, principal, report_id):
        found = self.reporting.enterprise_report(report_id)
        if principal.role == "partner" and found.get("partner_id") != principal.partner_id:
            raise NotFound(f"no report {report_id}")
        return json_response(200, found)

    @route("GET", "/delivery-log/recipients/<string:recipient_id>", roles=("coordinator", "ops"),
           summary="Delivery log of a recipient", tag="ops", paginated=True)
    def recipient_delivery_log(self, request, principal, recipient_id):
        """Every reminder to a participant or trainer, with its channel and status."""
        return json_response(200, paginate(
            self.notifications.delivery_log(recipient_id=recipient_id), request))

    @route("GET", "/delivery-log/workshops/<string:workshop_id>", roles=("coordinator", "ops"),
           summary="Delivery log of a workshop", tag="ops", paginated=True)
    def workshop_delivery_log(self, request, principal, workshop_id):
        """Every reminder about a workshop, with its channel and status."""
        return json_response(200, paginate(
            self.notifications.delivery_log(workshop_id=workshop_id), request))


SERVICE = GatewayService
