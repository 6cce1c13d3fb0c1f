"""OpenAPI generation: drf-spectacular's AutoSchema plus the error responses every operation can
give, so clients (and the schemathesis run in CI) see the whole contract, not only the 2xx."""

from drf_spectacular.openapi import AutoSchema

ERROR = {
    "type": "object",
    "description": 'Either {"detail": message} or {field: [messages]} (400).',
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "Invalid input: field messages.",
    "401": "Not authenticated.",
    "403": "Your role may not do this.",
    "404": "No such record among those you may see.",
    "405": "Method not offered on this resource.",
    "409": "Conflicts with a record saved at the same time.",
    "415": "Unsupported request body media type.",
    "412": "If-Match did not match: the record changed since it was read.",
    "429": "Too many requests; retry later.",
}


class RegistryAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # 404 on a list too: a page number past the end is "Invalid page."
        codes = ["400", "401", "403", "404", "405"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "415"]
            if self._is_detail():
                codes.append("412")
        if self.view.__class__.__name__ == "TokenView":
            codes = ["400", "405", "415", "429"]
        for code in codes:
            responses.setdefault(
                code,
                {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR}}},
            )
        return responses

    def _is_detail(self) -> bool:
        return "{" in self.path

    def get_tags(self):
        return [self.path.split("/")[3] if self.path.count("/") > 3 else "api"]
