"""The OpenAPI 3.1 description of the control API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from esp_at_sim.world.uart_faults import RESET_REASONS

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"description": description}
    if schema is not None:
        r["content"] = {"application/json": {"schema": schema}}
    return r


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "bad input (malformed JSON, impossible value)",
        401: "missing or wrong bearer token",
        404: "unknown module or fault",
        408: "condition not met in time",
    }
    return {str(c): _resp(text[c], _ERROR) for c in codes}


_MODULE = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": "module name"}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def openapi_document(server_url: str = "") -> dict[str, Any]:
    snapshot = {"$ref": "#/components/schemas/ModuleState"}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "esp-at-sim control API",
            "version": "1",
            "description": "Drive and watch an emulated ESP-AT world: modules, UART logs, faults, conditions.",
        },
        "servers": [{"url": server_url}] if server_url else [],
        "security": [{"bearer": []}],
        "paths": {
            "/api/world": {
                "get": {
                    "summary": "The world: time, modules, access points, peers (as the areas describe them)",
                    "operationId": "getWorld",
                    "responses": {"200": _resp("the world", {"type": "object"}), **_errors(401)},
                }
            },
            "/api/modules": {
                "get": {
                    "summary": "Every module's state",
                    "operationId": "listModules",
                    "responses": {"200": _resp("states", {"type": "array", "items": snapshot}), **_errors(401)},
                }
            },
            "/api/modules/{name}": {
                "get": {
                    "summary": "One module's state (sections: module, heap, nvs, netif, wifi, links, ble, ...)",
                    "operationId": "getModule",
                    "parameters": [_MODULE],
                    "responses": {"200": _resp("state", snapshot), **_errors(401, 404)},
                }
            },
            "/api/modules/{name}/uart": {
                "get": {
                    "summary": "The UART byte log (in: host to module, out: module to host, log: chip log port)",
                    "operationId": "getUart",
                    "parameters": [
                        _MODULE,
                        {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100000},
                        },
                        {"name": "dir", "in": "query", "schema": {"type": "string", "enum": ["in", "out", "log"]}},
                    ],
                    "responses": {
                        "200": _resp("entries", {"$ref": "#/components/schemas/UartLog"}),
                        **_errors(400, 401, 404),
                    },
                },
                "post": {
                    "summary": "Send bytes into the module's UART as if the host sent them",
                    "operationId": "sendUart",
                    "parameters": [_MODULE],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {
                                "text": {"type": "string", "minLength": 1},
                                "hex": {"type": "string", "pattern": "^([0-9a-fA-F]{2})+$"},
                                "crlf": {"type": "boolean", "description": "append \\r\\n"},
                            },
                            "oneOf": [{"required": ["text"]}, {"required": ["hex"]}],
                        }
                    ),
                    "responses": {"200": _resp("sent", {"type": "object"}), **_errors(400, 401, 404)},
                },
            },
            "/api/modules/{name}/transcript": {
                "get": {
                    "summary": "The UART log as a replayable transcript (JSON lines)",
                    "operationId": "getTranscript",
                    "parameters": [_MODULE],
                    "responses": {
                        "200": {
                            "description": "transcript",
                            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/api/modules/{name}/reset": {
                "post": {
                    "summary": "A spontaneous reset with the boot log of its cause",
                    "operationId": "resetModule",
                    "parameters": [_MODULE],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {
                                "reason": {
                                    "type": "string",
                                    "enum": list(RESET_REASONS),
                                }
                            },
                        },
                        required=False,
                    ),
                    "responses": {"200": _resp("reset", {"type": "object"}), **_errors(400, 401, 404)},
                }
            },
            "/api/faults": {
                "get": {
                    "summary": "Every fault that can be injected, with its parameters",
                    "operationId": "listFaults",
                    "responses": {
                        "200": _resp("faults", {"type": "array", "items": {"$ref": "#/components/schemas/Fault"}}),
                        **_errors(401),
                    },
                }
            },
            "/api/faults/{fault}": {
                "post": {
                    "summary": "Inject a fault; the body holds its parameters",
                    "operationId": "injectFault",
                    "parameters": [{"name": "fault", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "requestBody": _body({"type": "object"}, required=False),
                    "responses": {"200": _resp("injected", {"type": "object"}), **_errors(400, 401, 404)},
                }
            },
            "/api/wait": {
                "post": {
                    "summary": "Wait until the UART shows a pattern or a state value holds (world-clock timeout)",
                    "operationId": "wait",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["module"],
                            "properties": {
                                "module": {"type": "string"},
                                "uart": {"type": "string", "description": "regular expression on module output"},
                                "since": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "UART sequence to search after (default: now)",
                                },
                                "state": {
                                    "type": "string",
                                    "description": "path into the module state, e.g. wifi.state",
                                },
                                "equals": {"description": "value the state must have (default: truthy)"},
                                "timeout": {"type": "number", "minimum": 0, "maximum": 3600},
                            },
                        }
                    ),
                    "responses": {"200": _resp("matched", {"type": "object"}), **_errors(400, 401, 404, 408)},
                }
            },
            "/api/access_points": {
                "get": {
                    "summary": "Access points on the air",
                    "operationId": "listAccessPoints",
                    "responses": {"200": _resp("access points", {"type": "array"}), **_errors(401)},
                },
                "post": {
                    "summary": "Add an access point (the keys of a [[access_point]] scenario table)",
                    "operationId": "addAccessPoint",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["ssid"],
                            "properties": {
                                "ssid": {"type": "string"},
                                "password": {"type": "string"},
                                "channel": {"type": "integer"},
                                "rssi": {"type": "number"},
                            },
                        }
                    ),
                    "responses": {"201": _resp("added", {"type": "object"}), **_errors(400, 401)},
                },
            },
            "/api/access_points/{ssid}": {
                "patch": {
                    "summary": "Change an access point: rssi (dBm, null: distance model), position [x, y], up",
                    "operationId": "changeAccessPoint",
                    "parameters": [
                        {"name": "ssid", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "bssid", "in": "query", "schema": {"type": "string"}},
                    ],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {
                                "rssi": {"type": ["number", "null"], "minimum": -120, "maximum": 0},
                                "position": {
                                    "type": "array",
                                    "items": {"type": "number"},
                                    "minItems": 2,
                                    "maxItems": 2,
                                },
                                "up": {"type": "boolean"},
                            },
                        }
                    ),
                    "responses": {"200": _resp("changed", {"type": "object"}), **_errors(400, 401, 404)},
                },
                "delete": {
                    "summary": "Remove an access point",
                    "operationId": "removeAccessPoint",
                    "parameters": [
                        {"name": "ssid", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "bssid", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _resp("removed", {"type": "object"}), **_errors(400, 401, 404)},
                },
            },
            "/api/modules/{name}/position": {
                "put": {
                    "summary": "Move a module (metres; Wi-Fi and BLE signal follow the distance)",
                    "operationId": "moveModule",
                    "parameters": [_MODULE],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["position"],
                            "properties": {
                                "position": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
                            },
                        }
                    ),
                    "responses": {"200": _resp("moved", {"type": "object"}), **_errors(400, 401, 404)},
                }
            },
            "/api/ble_peers": {
                "post": {
                    "summary": "Add a BLE peer (the keys of a [[ble_peer]] scenario table)",
                    "operationId": "addBlePeer",
                    "requestBody": _body({"type": "object", "required": ["name"]}),
                    "responses": {"201": _resp("added", {"type": "object"}), **_errors(400, 401)},
                }
            },
            "/api/ble_peers/{peer}": {
                "delete": {
                    "summary": "A BLE peer leaves the world",
                    "operationId": "removeBlePeer",
                    "parameters": [{"name": "peer", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": _resp("removed", {"type": "object"}), **_errors(400, 401, 404)},
                }
            },
            "/api/events": {
                "get": {
                    "summary": "WebSocket event stream (token in ?token=): hello, uart, module, state messages",
                    "operationId": "events",
                    "parameters": [
                        {"name": "token", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "modules",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "comma-separated",
                        },
                    ],
                    "responses": {"101": {"description": "switching to WebSocket"}, **_errors(401)},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "ModuleState": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "module": {"type": "object"},
                        "heap": {"type": "object"},
                    },
                },
                "UartEntry": {
                    "type": "object",
                    "required": ["seq", "t", "dir", "text"],
                    "properties": {
                        "seq": {"type": "integer"},
                        "t": {"type": "number"},
                        "dir": {"type": "string", "enum": ["in", "out", "log"]},
                        "text": {"type": "string"},
                        "hex": {"type": "string"},
                        "source": {"type": "string"},
                    },
                },
                "UartLog": {
                    "type": "object",
                    "required": ["module", "last_seq", "entries"],
                    "properties": {
                        "module": {"type": "string"},
                        "last_seq": {"type": "integer"},
                        "entries": {"type": "array", "items": {"$ref": "#/components/schemas/UartEntry"}},
                    },
                },
                "Fault": {
                    "type": "object",
                    "required": ["name", "description", "params"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "params": {"type": "object"},
                    },
                },
            },
        },
    }
    return doc
