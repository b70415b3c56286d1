#!/usr/bin/env python3
"""The official Alibaba Cloud Python SDKs against a running threatintel (scripts/sdk-tests/run.sh
starts it with fixtures/evidence.jsonl.template's evidence and two access keys).

Clients:
  tea-v3      alibabacloud_sasti20200512 Client (Tea / Darabonba), ACS3-HMAC-SHA256
  tea-v1      the same with Config(signature_algorithm='v2'), i.e. the V1 HMAC-SHA1 query signature
  tea-*-async the same through aiohttp (which encodes the query differently)
  legacy      aliyunsdkcore AcsClient + aliyunsdksasti DescribeDomainReportRequest (V1), JSON
              with do_action_with_exception, XML with set_accept_format('XML') + do_action
  legacy-common  the same client with a CommonRequest naming the action (DescribeIpReport)

DescribeIpReport and DescribeFileReport go through each of them too (describe_ip_report,
DescribeIpReportRequest, describe_file_report, DescribeFileReportRequest).

Every field each SDK returns is checked; errors are provoked from the SDK side (wrong secret,
unknown key, stale timestamp, replayed nonce, throttling). Exit status 1 if anything failed.
With --protocol https --ca FILE every client speaks HTTPS and trusts FILE: the Tea clients
through Config(ca=...), the legacy ones through AcsClient(verify=...).
Plain Python: no test runner needed.
"""

import argparse
import asyncio
import json
import re
import sys
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from alibabacloud_sasti20200512 import models as sasti_models
from alibabacloud_sasti20200512.client import Client as TeaClient
from alibabacloud_tea_openapi import exceptions as tea_exceptions
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.http import protocol_type as legacy_protocol
from aliyunsdkcore.request import CommonRequest
from aliyunsdkcore.utils import parameter_helper as legacy_helper
from aliyunsdksasti.request.v20200512.DescribeDomainReportRequest import (
    DescribeDomainReportRequest,
)
from aliyunsdksasti.request.v20200512.DescribeFileReportRequest import DescribeFileReportRequest
from aliyunsdksasti.request.v20200512.DescribeIpReportRequest import DescribeIpReportRequest

MALICIOUS = "sdk-evil-c2.com"
ALLOWLISTED = "sdk-popular.com"
UNKNOWN = "sdk-never-seen.org"
IDN = "例え.jp"
IDN_ACE = "xn--r8jz45g.jp"
ALL_FIELDS = "ThreatTypes,Intelligences,AttackPreferenceTop5,AttackCntByThreatType"
HEAVY = ["ThreatTypes", "Intelligences", "AttackPreferenceTop5", "AttackCntByThreatType"]
REPORT_KEYS = [
    "Context", "Basic", "RequestId", "SslCert", "ThreatTypes", "Intelligences", "Scenario",
    "Whois", "AttackCntByThreatType", "ThreatLevel", "Confidence", "Domain",
    "AttackPreferenceTop5", "Group",
]
LISTED_IP = "198.51.100.23"
IP_IN_NETWORK = "2001:db8:bad::1"
RESOLVER_IP = "9.9.9.9"
UNKNOWN_IP = "192.0.2.200"
IP_REPORT_KEYS = [
    "Context", "RequestId", "ThreatTypes", "Intelligences", "Scenario", "Whois",
    "AttackCntByThreatType", "ThreatLevel", "Confidence", "Ip", "AttackPreferenceTop5", "Group",
]
IP_KEYS = ["asn", "asn_label", "city", "country", "idc_name", "ip", "isp", "province"]
# The fixture's file: listed by its MD5 by one source, by MD5, SHA-1 and SHA-256 by another.
FILE_MD5 = "44d88612fea8a8f36de82e1278abb02f"
FILE_SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
FILE_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
UNKNOWN_FILE = "0" * 63 + "1"
FILE_REPORT_KEYS = [
    "FileHash", "Basic", "ThreatLevel", "ThreatTypes", "Intelligences", "Sandbox", "RequestId",
]
BASIC_FILE_KEYS = ["file_names", "file_size", "file_type", "first_seen", "last_seen", "md5",
                   "sha1", "sha256"]
# The Tea model's attribute for each key.
TEA_ATTRS = {
    "AttackPreferenceTop5": "attack_preference_top_5",
    "AttackCntByThreatType": "attack_cnt_by_threat_type",
    "SslCert": "ssl_cert",
    "ThreatTypes": "threat_types",
    "ThreatLevel": "threat_level",
    "RequestId": "request_id",
}
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
SCENARIO = {
    ("zh", "3"): "失陷指标",
    ("en", "3"): "compromise indicator",
    ("zh", "0"): "信息数据",
    ("en", "0"): "informational",
}

ARGS = None
FAILURES = []
CHECKS = [0]


class CheckFailed(AssertionError):
    pass


def check(condition, what):
    CHECKS[0] += 1
    if not condition:
        raise CheckFailed(what)


def tea_attr(key):
    return TEA_ATTRS.get(key) or re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


# ---------------------------------------------------------------------------------------------
# Clients


def tea_client(v1=False, key=None, secret=None):
    config = openapi_models.Config(
        access_key_id=key or ARGS.key,
        access_key_secret=secret or ARGS.secret,
        endpoint=ARGS.endpoint,
        protocol=ARGS.protocol,
        ca=ARGS.ca,
    )
    if v1:
        config.signature_algorithm = "v2"
    return TeaClient(config)


def tea_request(domain, field=None, lang=None):
    request = sasti_models.DescribeDomainReportRequest(domain=domain)
    if field is not None:
        request.field = field
    if lang is not None:
        request.service_lang = lang
    return request


def tea_call(domain, field=None, lang=None, v1=False, key=None, secret=None):
    """The body as {Key: value} from the Tea model's attributes."""
    response = tea_client(v1, key, secret).describe_domain_report(tea_request(domain, field, lang))
    check(response.status_code == 200, f"HTTP {response.status_code}")
    body = response.body
    check(set(body.to_map()) == set(REPORT_KEYS), f"Tea body keys {sorted(body.to_map())}")
    return {key: getattr(body, tea_attr(key)) for key in REPORT_KEYS}


def tea_call_async(domain, field=None, lang=None, v1=False):
    async def go():
        client = tea_client(v1)
        return await client.describe_domain_report_async(tea_request(domain, field, lang))

    response = asyncio.run(go())
    check(response.status_code == 200, f"HTTP {response.status_code}")
    return {key: getattr(response.body, tea_attr(key)) for key in REPORT_KEYS}


def legacy_protocol_type():
    """The legacy SDK's own constant: it tells HTTPS by identity (`protocol is PT.HTTPS`), so an
    equal string from the command line would silently mean HTTP."""
    return legacy_protocol.HTTPS if ARGS.protocol == "https" else legacy_protocol.HTTP


def legacy_client(key=None, secret=None):
    # verify=None keeps the SDK's default (certifi, or ALIBABA_CLOUD_CA_BUNDLE).
    return AcsClient(key or ARGS.key, secret or ARGS.secret, "cn-hangzhou", verify=ARGS.ca)


def legacy_request(domain, field=None, lang=None):
    request = DescribeDomainReportRequest()
    request.set_endpoint(ARGS.endpoint)
    request.set_protocol_type(legacy_protocol_type())
    request.set_Domain(domain)
    if field is not None:
        request.set_Field(field)
    if lang is not None:
        request.set_ServiceLang(lang)
    return request


def legacy_call(domain, field=None, lang=None, key=None, secret=None):
    raw = legacy_client(key, secret).do_action_with_exception(legacy_request(domain, field, lang))
    body = json.loads(raw)
    check(isinstance(body, dict), f"legacy body is not an object: {raw[:200]!r}")
    check(sorted(body) == sorted(REPORT_KEYS), f"legacy body keys {sorted(body)}")
    return body


def legacy_xml(domain, field=None, lang=None):
    """do_action with Format=XML: the raw XML, turned into {Key: text or element}."""
    request = legacy_request(domain, field, lang)
    request.set_accept_format("XML")
    raw = legacy_client().do_action(request)
    check(raw.startswith(b"<?xml"), f"XML body expected: {raw[:200]!r}")
    root = ET.fromstring(raw)
    check(root.tag == "DescribeDomainReportResponse", f"XML root {root.tag}")
    tags = []
    for child in root:
        if child.tag not in tags:
            tags.append(child.tag)
    check(sorted(tags) == sorted(REPORT_KEYS), f"XML elements {tags}")
    return root


class ReportAction:
    """One of the address and file report actions as each SDK spells it: its request parameter
    (`Ip`, `FileHash`), the Tea model and method, and the legacy SDK's request class."""

    def __init__(self, action, param, tea_model, tea_field, tea_method, legacy_class, keys):
        self.action, self.param, self.keys = action, param, keys
        self.tea_model, self.tea_field, self.tea_method = tea_model, tea_field, tea_method
        self.legacy_class = legacy_class

    def tea_request(self, subject, field=None, lang=None):
        request = self.tea_model(**{self.tea_field: subject})
        if field is not None:
            request.field = field
        if lang is not None:
            request.service_lang = lang
        return request

    def tea_body(self, response):
        check(response.status_code == 200, f"HTTP {response.status_code}")
        body = response.body
        check(set(body.to_map()) == set(self.keys), f"Tea body keys {sorted(body.to_map())}")
        return {key: getattr(body, tea_attr(key)) for key in self.keys}

    def tea_call(self, subject, field=None, lang=None, v1=False):
        call = getattr(tea_client(v1), self.tea_method)
        return self.tea_body(call(self.tea_request(subject, field, lang)))

    def tea_call_async(self, subject, field=None, lang=None, v1=False):
        async def go():
            call = getattr(tea_client(v1), f"{self.tea_method}_async")
            return await call(self.tea_request(subject, field, lang))

        return self.tea_body(asyncio.run(go()))

    def legacy_request(self, subject, field=None, lang=None):
        request = self.legacy_class()
        request.set_endpoint(ARGS.endpoint)
        request.set_protocol_type(legacy_protocol_type())
        getattr(request, f"set_{self.param}")(subject)
        if field is not None:
            request.set_Field(field)
        if lang is not None:
            request.set_ServiceLang(lang)
        return request

    def legacy_common_request(self, subject, field=None, lang=None):
        request = CommonRequest(domain=ARGS.endpoint, version="2020-05-12",
                                action_name=self.action)
        request.set_protocol_type(legacy_protocol_type())
        request.set_method("POST")
        request.add_query_param(self.param, subject)
        if field is not None:
            request.add_query_param("Field", field)
        if lang is not None:
            request.add_query_param("ServiceLang", lang)
        return request

    def clients(self):
        """Each SDK way of calling the action: (subject, field, lang) -> the body's fields."""
        return {
            "tea-v3": lambda s, f=None, l=None: self.tea_call(s, f, l),
            "tea-v1": lambda s, f=None, l=None: self.tea_call(s, f, l, v1=True),
            "tea-v3-async": lambda s, f=None, l=None: self.tea_call_async(s, f, l),
            "tea-v1-async": lambda s, f=None, l=None: self.tea_call_async(s, f, l, v1=True),
            "legacy": lambda s, f=None, l=None: legacy_json(self.legacy_request(s, f, l),
                                                            self.keys),
            "legacy-common": lambda s, f=None, l=None: legacy_json(
                self.legacy_common_request(s, f, l), self.keys),
        }


IP_REPORT = ReportAction("DescribeIpReport", "Ip", sasti_models.DescribeIpReportRequest, "ip",
                         "describe_ip_report", DescribeIpReportRequest, IP_REPORT_KEYS)
FILE_REPORT = ReportAction("DescribeFileReport", "FileHash",
                           sasti_models.DescribeFileReportRequest, "file_hash",
                           "describe_file_report", DescribeFileReportRequest, FILE_REPORT_KEYS)


def legacy_json(request, keys):
    raw = legacy_client().do_action_with_exception(request)
    body = json.loads(raw)
    check(isinstance(body, dict), f"legacy body is not an object: {raw[:200]!r}")
    check(sorted(body) == sorted(keys), f"legacy body keys {sorted(body)}")
    return body


IP_CLIENTS = IP_REPORT.clients()
FILE_CLIENTS = FILE_REPORT.clients()


CLIENTS = {
    "tea-v3": lambda d, f=None, l=None: tea_call(d, f, l),
    "tea-v1": lambda d, f=None, l=None: tea_call(d, f, l, v1=True),
    "tea-v3-async": lambda d, f=None, l=None: tea_call_async(d, f, l),
    "tea-v1-async": lambda d, f=None, l=None: tea_call_async(d, f, l, v1=True),
    "legacy": legacy_call,
}


# ---------------------------------------------------------------------------------------------
# What a report must look like


def json_doc(body, key, kind):
    value = body[key]
    try:
        doc = json.loads(value)
    except ValueError as e:
        raise CheckFailed(f"{key} is not a JSON document ({e}): {value!r}")
    check(isinstance(doc, kind), f"{key} is not a JSON {kind.__name__}: {value!r}")
    return doc


def check_report(body, domain, level, field=None, lang=None):
    for key in REPORT_KEYS:
        check(isinstance(body[key], str), f"{key} is {type(body[key]).__name__}, not str")
    check(REQUEST_ID.match(body["RequestId"]), f"RequestId {body['RequestId']!r}")
    check(body["Domain"] == domain, f"Domain {body['Domain']!r} != {domain!r}")
    check(body["ThreatLevel"] == level, f"ThreatLevel {body['ThreatLevel']!r} != {level!r}")
    check(body["Context"] == "" and body["Group"] == "", "Context and Group are reserved")
    confidence = body["Confidence"]
    check(confidence.isdigit(), f"Confidence {confidence!r}")
    if level == "-1":
        check(confidence == "0", f"unknown name: Confidence {confidence!r}")
        check(body["Scenario"] == "", f"unknown name: Scenario {body['Scenario']!r}")
    else:
        check(90 <= int(confidence) <= 100, f"Confidence {confidence} for ThreatLevel {level}")
        expected = SCENARIO[(lang or "zh", level)]
        check(body["Scenario"] == expected, f"Scenario {body['Scenario']!r} != {expected!r}")

    basic = json_doc(body, "Basic", dict)
    for key in ["domain", "sld_domain", "reg_date", "expire_date", "child_domain_cnt",
                "malicious_child_domain_cnt", "ip_cnt", "malicious_ip_cnt"]:
        check(isinstance(basic.get(key), str), f"Basic.{key} is not a string: {basic}")
    check(basic["domain"] == domain, f"Basic.domain {basic['domain']!r}")

    asked = [f.strip() for f in (field or "").split(",") if f.strip()]
    for key in HEAVY:
        if key not in asked:
            check(body[key] == "", f"{key} not asked for but {body[key][:80]!r}")
    if domain == MALICIOUS:
        whois = json_doc(body, "Whois", dict)
        check(whois.get("registrar") == "NameCheap, Inc.", f"Whois {whois}")
        cert = json_doc(body, "SslCert", dict)
        check(cert.get("serial_number") == "18395475168054001104", f"SslCert {cert}")
        check(basic["ip_cnt"] == "1" and basic["child_domain_cnt"] == "1", f"Basic {basic}")
        for key in asked:
            doc = json_doc(body, key, list)
            check(len(doc) > 0, f"{key} is empty")
        if "ThreatTypes" in asked:
            threat = json_doc(body, "ThreatTypes", list)[0]
            for k in ["threat_type", "threat_type_desc", "first_find_time", "last_find_time",
                      "risk_type", "scenario", "attck_stage"]:
                check(k in threat, f"ThreatTypes[0] has no {k}: {threat}")
            check(threat["threat_type"] == "C&C Server", f"ThreatTypes[0] {threat}")
            check(threat["risk_type"] == 3, f"risk_type {threat['risk_type']!r}")
            check(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", threat["last_find_time"]),
                  f"last_find_time {threat['last_find_time']!r}")
        if "Intelligences" in asked:
            sources = {i["source"] for i in json_doc(body, "Intelligences", list)}
            check(sources == {"sdk-feed-one", "sdk-feed-two"}, f"Intelligences sources {sources}")
        if "AttackPreferenceTop5" in asked:
            top5 = json_doc(body, "AttackPreferenceTop5", list)
            check(len(top5) == 2, f"AttackPreferenceTop5 {top5}")
            check(all({"event_cnt", "industry_name", "gmt_last_attack"} <= set(i) for i in top5),
                  f"AttackPreferenceTop5 {top5}")
        if "AttackCntByThreatType" in asked:
            counts = json_doc(body, "AttackCntByThreatType", list)
            check(sum(i["event_cnt"] for i in counts) == 16, f"AttackCntByThreatType {counts}")
    else:
        for key in ["Whois", "SslCert"] + HEAVY:
            check(body[key] == "", f"{domain}: {key} = {body[key][:80]!r}")


def check_xml_report(root, domain, level):
    def text(tag):
        element = root.find(tag)
        check(element is not None, f"XML has no <{tag}>")
        return element.text or ""

    check(REQUEST_ID.match(text("RequestId")), f"XML RequestId {text('RequestId')!r}")
    check(text("Domain") == domain, f"XML Domain {text('Domain')!r}")
    check(text("ThreatLevel") == level, f"XML ThreatLevel {text('ThreatLevel')!r}")
    basic = root.find("Basic")
    check(basic is not None and basic.findtext("domain") == domain, "XML <Basic><domain>")
    if domain == MALICIOUS:
        threat_types = root.findall("ThreatTypes")
        check(len(threat_types) >= 1, "XML <ThreatTypes> repeated per item")
        check(threat_types[0].findtext("threat_type") == "C&C Server", "XML threat_type")
        check(len(root.findall("Intelligences")) == 2, "XML: two <Intelligences>")


def check_ip_report(body, ip, level, field=None, lang=None):
    for key in IP_REPORT_KEYS:
        check(isinstance(body[key], str), f"{key} is {type(body[key]).__name__}, not str")
    check(REQUEST_ID.match(body["RequestId"]), f"RequestId {body['RequestId']!r}")
    check(body["ThreatLevel"] == level, f"ThreatLevel {body['ThreatLevel']!r} != {level!r}")
    for reserved in ["Context", "Group", "Whois", "AttackPreferenceTop5", "AttackCntByThreatType"]:
        check(body[reserved] == "", f"{reserved} = {body[reserved][:80]!r}")
    located = json_doc(body, "Ip", dict)
    check(sorted(located) == IP_KEYS, f"Ip keys {sorted(located)}")
    check(all(isinstance(v, str) for v in located.values()), f"Ip values {located}")
    check(located["ip"] == ip, f"Ip.ip {located['ip']!r} != {ip!r}")
    confidence = body["Confidence"]
    if level == "-1":
        check(confidence == "0" and body["Scenario"] == "", f"unknown address: {body}")
    else:
        # Two B sources corroborate the listed address; one source alone scores lower.
        low = 90 if ip == LISTED_IP else 60
        check(low <= int(confidence) <= 100, f"Confidence {confidence} for ThreatLevel {level}")
        expected = SCENARIO[(lang or "zh", level)]
        check(body["Scenario"] == expected, f"Scenario {body['Scenario']!r} != {expected!r}")
    asked = [f.strip() for f in (field or "").split(",") if f.strip()]
    for key in ["ThreatTypes", "Intelligences"]:
        if key not in asked or level in ("-1", "0"):
            check(body[key] == "" or level == "0", f"{key} = {body[key][:80]!r}")
    if ip == LISTED_IP and "ThreatTypes" in asked:
        threat = json_doc(body, "ThreatTypes", list)[0]
        check(threat["threat_type"] == "C&C Server" and threat["risk_type"] == 3,
              f"ThreatTypes[0] {threat}")
        for k in ["threat_type_desc", "first_find_time", "last_find_time", "scenario",
                  "attck_stage"]:
            check(k in threat, f"ThreatTypes[0] has no {k}: {threat}")
    if ip == LISTED_IP and "Intelligences" in asked:
        intelligences = json_doc(body, "Intelligences", list)
        sources = {i["source"] for i in intelligences}
        check(sources == {"sdk-feed-one", "sdk-feed-two"}, f"Intelligences sources {sources}")
        check(all(i["threat_type_l2"] == "pikabot" for i in intelligences), f"{intelligences}")


def check_file_report(body, file_hash, level, field=None):
    for key in FILE_REPORT_KEYS:
        check(isinstance(body[key], str), f"{key} is {type(body[key]).__name__}, not str")
    check(REQUEST_ID.match(body["RequestId"]), f"RequestId {body['RequestId']!r}")
    check(body["FileHash"] == file_hash.lower(), f"FileHash {body['FileHash']!r}")
    check(body["ThreatLevel"] == level, f"ThreatLevel {body['ThreatLevel']!r} != {level!r}")
    check(body["Sandbox"] == "", f"Sandbox = {body['Sandbox'][:80]!r}")
    basic = json_doc(body, "Basic", dict)
    check(sorted(basic) == BASIC_FILE_KEYS, f"Basic keys {sorted(basic)}")
    check(all(isinstance(v, str) for v in basic.values()), f"Basic values {basic}")
    asked = [f.strip() for f in (field or "").split(",") if f.strip()]
    if level == "-1":
        check(basic["sha256"] == file_hash.lower() and basic["md5"] == "", f"Basic {basic}")
        check(body["ThreatTypes"] == "" and body["Intelligences"] == "", f"unknown file: {body}")
        return
    check((basic["md5"], basic["sha1"], basic["sha256"]) == (FILE_MD5, FILE_SHA1, FILE_SHA256),
          f"Basic hashes {basic}")
    check(basic["file_type"] == "exe" and basic["file_size"] == "68", f"Basic {basic}")
    check(basic["file_names"] == "invoice.doc,payload.exe", f"Basic file_names {basic}")
    check(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", basic["last_seen"]),
          f"Basic last_seen {basic['last_seen']!r}")
    for key in ["ThreatTypes", "Intelligences"]:
        if key not in asked:
            check(body[key] == "", f"{key} = {body[key][:80]!r}")
    if "ThreatTypes" in asked:
        threat = json_doc(body, "ThreatTypes", list)[0]
        check(threat["threat_type"] == "Malware" and threat["risk_type"] == 3,
              f"ThreatTypes[0] {threat}")
    if "Intelligences" in asked:
        check(json_doc(body, "Intelligences", list) == ["AgentTesla"],
              f"Intelligences {body['Intelligences']!r}")


# ---------------------------------------------------------------------------------------------
# Errors as each SDK surfaces them


@contextmanager
def raises_tea(code, status, exception=tea_exceptions.ClientException):
    try:
        yield
    except tea_exceptions.AlibabaCloudException as e:
        check(isinstance(e, exception),
              f"{type(e).__name__} ({e.code}), expected {exception.__name__}")
        check(e.code == code, f"code {e.code!r}, expected {code!r} ({e.message})")
        check(e.status_code == status, f"status {e.status_code}, expected {status}")
        check(REQUEST_ID.match(e.request_id or ""), f"error RequestId {e.request_id!r}")
        check(set(e.data) >= {"RequestId", "HostId", "Code", "Message", "Recommend"},
              f"error body {e.data}")
        check(e.data.get("HostId") == "threatintel-sdk-tests", f"HostId {e.data.get('HostId')}")
        RAISED.append(e)
        return
    raise CheckFailed(f"no exception, expected {code}")


@contextmanager
def raises_legacy(code, status):
    try:
        yield
    except LegacyServerException as e:
        check(e.get_error_code() == code,
              f"legacy code {e.get_error_code()!r}, expected {code!r} ({e.get_error_msg()})")
        check(e.get_http_status() == status, f"legacy status {e.get_http_status()}, expected {status}")
        check(REQUEST_ID.match(e.get_request_id() or ""), f"legacy RequestId {e.get_request_id()!r}")
        RAISED.append(e)
        return
    raise CheckFailed(f"no exception, expected {code}")


RAISED = []


@contextmanager
def patched(owner, name, replacement):
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def stale_time(minutes):
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# The tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def reports_from_every_client():
    cases = [
        (MALICIOUS, "3", None, None),
        (MALICIOUS, "3", ALL_FIELDS, None),
        (MALICIOUS, "3", ALL_FIELDS, "en"),
        (MALICIOUS, "3", "ThreatTypes", "zh"),
        (ALLOWLISTED, "0", None, None),
        (ALLOWLISTED, "0", ALL_FIELDS, "en"),
        (UNKNOWN, "-1", None, None),
        (UNKNOWN, "-1", ALL_FIELDS, "en"),
    ]
    for name, call in CLIENTS.items():
        for domain, level, field, lang in cases:
            try:
                body = call(domain, field, lang)
                check_report(body, domain, level, field, lang)
            except CheckFailed as e:
                raise CheckFailed(f"{name} {domain} Field={field} ServiceLang={lang}: {e}")


@test
def english_and_chinese_differ():
    zh = CLIENTS["tea-v3"](MALICIOUS, "ThreatTypes", "zh")
    en = CLIENTS["legacy"](MALICIOUS, "ThreatTypes", "en")
    zh_desc = json.loads(zh["ThreatTypes"])[0]["threat_type_desc"]
    en_desc = json.loads(en["ThreatTypes"])[0]["threat_type_desc"]
    check(zh_desc != en_desc, f"threat_type_desc zh {zh_desc!r} == en {en_desc!r}")


@test
def unicode_names_and_special_characters_sign_alike():
    # Each client percent-encodes differently (§4.6); the server re-encodes before verifying.
    for name, call in CLIENTS.items():
        try:
            body = call(IDN, "ThreatTypes, Intelligences", "en")
        except Exception as e:
            raise CheckFailed(f"{name} {IDN}: {type(e).__name__}: {e}")
        check(body["Domain"] == IDN_ACE, f"{name}: Domain {body['Domain']!r}")
        check(body["ThreatLevel"] == "-1", f"{name}: ThreatLevel {body['ThreatLevel']!r}")


@test
def legacy_xml_bodies():
    for domain, level, field in [(MALICIOUS, "3", ALL_FIELDS), (ALLOWLISTED, "0", None),
                                 (UNKNOWN, "-1", None)]:
        check_xml_report(legacy_xml(domain, field), domain, level)
    # do_action without a format sends the literal Format=None: answered in JSON.
    raw = legacy_client().do_action(legacy_request(UNKNOWN))
    check_report(json.loads(raw), UNKNOWN, "-1")


@test
def wrong_secret():
    for v1 in (False, True):
        with raises_tea("SignatureDoesNotMatch", 400):
            tea_call(MALICIOUS, v1=v1, secret="wrong-secret")
        message = RAISED[-1].data["Message"]
        check("server string to sign is:" in message, f"message {message!r}")
        if not v1:
            check(message.split(":", 1)[1].startswith("ACS3-HMAC-SHA256\n"), message)
    # The legacy SDK compares the server's string-to-sign (after the ':') with its own and, when
    # they are identical, rewrites SignatureDoesNotMatch to InvalidAccessKeySecret: getting that
    # code proves the server canonicalised exactly as the SDK did.
    with raises_legacy("InvalidAccessKeySecret", 400):
        legacy_call(MALICIOUS, secret="wrong-secret")


@test
def unknown_access_key():
    for v1 in (False, True):
        with raises_tea("InvalidAccessKeyId.NotFound", 404):
            tea_call(MALICIOUS, v1=v1, key="LTAInoSuchKey00000001")
    with raises_legacy("InvalidAccessKeyId.NotFound", 404):
        legacy_call(MALICIOUS, key="LTAInoSuchKey00000001")


@test
def stale_timestamp():
    for minutes in (20, -20):
        stale = staticmethod(lambda: stale_time(minutes))
        with patched(TeaUtils, "get_timestamp", stale):
            for v1 in (False, True):
                with raises_tea("InvalidTimeStamp.Expired", 400):
                    tea_call(MALICIOUS, v1=v1)
        with patched(legacy_helper, "get_iso_8061_date", lambda: stale_time(minutes)):
            with raises_legacy("InvalidTimeStamp.Expired", 400):
                legacy_call(MALICIOUS)
    # 10 minutes off is inside the window.
    with patched(TeaUtils, "get_timestamp", staticmethod(lambda: stale_time(10))):
        check_report(tea_call(UNKNOWN), UNKNOWN, "-1")
    with patched(TeaUtils, "get_timestamp", staticmethod(lambda: "2024-05-01 12:00:00")):
        with raises_tea("InvalidTimeStamp.Format", 400):
            tea_call(MALICIOUS, v1=True)


@test
def replayed_nonce():
    # The SDKs make nonces with Utils.get_nonce (Tea) and parameter_helper.get_uuid (legacy):
    # pinned, the second call replays the first one's nonce.
    for label, v1 in (("v3", False), ("v1", True)):
        nonce = uuid.uuid4().hex
        with patched(TeaUtils, "get_nonce", staticmethod(lambda: nonce)):
            check_report(tea_call(UNKNOWN, v1=v1), UNKNOWN, "-1")
            with raises_tea("SignatureNonceUsed", 400):
                tea_call(UNKNOWN, v1=v1)
    nonce = uuid.uuid4().hex
    with patched(legacy_helper, "get_uuid", lambda: nonce):
        check_report(legacy_call(UNKNOWN), UNKNOWN, "-1")
        with raises_legacy("SignatureNonceUsed", 400):
            legacy_call(UNKNOWN)
    # Unpinned again: fresh nonces work.
    check_report(tea_call(UNKNOWN), UNKNOWN, "-1")


def burst(call, n=10):
    ok, throttled = 0, []
    started = time.monotonic()
    for _ in range(n):
        try:
            call()
            ok += 1
        except Exception as e:  # noqa: BLE001 - sorted out by the caller
            throttled.append(e)
    return ok, throttled, time.monotonic() - started


@test
def throttling():
    limited = dict(key=ARGS.limited_key, secret=ARGS.limited_secret)
    for v1 in (False, True):
        time.sleep(1.1)
        ok, errors, took = burst(lambda: tea_call(UNKNOWN, v1=v1, **limited))
        # A sliding one-second window: at most 3 in any second of the burst.
        check(1 <= ok <= 3 * (int(took) + 1),
              f"Tea v1={v1}: {ok} of 10 admitted at rate 3 (in {took:.2f}s)")
        if took < 1.0:
            check(ok == 3, f"Tea v1={v1}: {ok} of 10 admitted at rate 3 within {took:.2f}s")
        check(errors, f"Tea v1={v1}: none of 10 throttled (in {took:.2f}s)")
        for e in errors:
            check(isinstance(e, tea_exceptions.ThrottlingException),
                  f"Tea v1={v1}: {type(e).__name__}: {e}")
            check(e.code == "Throttling.User" and e.status_code == 400, f"{e.code} {e.status_code}")
            check(isinstance(e.retry_after, int) and 0 < e.retry_after <= 1000,
                  f"retry_after {e.retry_after!r}")
    time.sleep(1.1)
    ok, errors, took = burst(lambda: legacy_call(UNKNOWN, **limited))
    check(1 <= ok <= 3 * (int(took) + 1), f"legacy: {ok} of 10 admitted at rate 3 (in {took:.2f}s)")
    check(errors, f"legacy: none of 10 throttled (in {took:.2f}s)")
    for e in errors:
        check(isinstance(e, LegacyServerException), f"legacy: {type(e).__name__}: {e}")
        check(e.get_error_code() == "Throttling.User" and e.get_http_status() == 400,
              f"legacy: {e.get_error_code()} {e.get_http_status()}")
    # After a second the key is admitted again.
    time.sleep(1.1)
    check_report(tea_call(UNKNOWN, **limited), UNKNOWN, "-1")


@test
def missing_and_invalid_parameters():
    # The SDKs validate nothing: the server must.
    for name, call in (("tea-v3", lambda **kw: tea_call(**kw)),
                       ("tea-v1", lambda **kw: tea_call(v1=True, **kw))):
        with raises_tea("InvalidParameter", 400):
            call(domain="http://evil.example/path")
        with raises_tea("InvalidParameter", 400):
            call(domain=MALICIOUS, field="Bogus")
        with raises_tea("InvalidParameter", 400):
            call(domain=MALICIOUS, lang="fr")
    with raises_legacy("InvalidParameter", 400):
        legacy_call("1.2.3.4")
    # No Domain at all: Missing<Name> per the reference (§9.3).
    try:
        tea_client().describe_domain_report(sasti_models.DescribeDomainReportRequest())
        raise CheckFailed("no exception without Domain")
    except tea_exceptions.ClientException as e:
        check(e.code == "MissingDomain", f"code {e.code}")
        check(e.data["Message"] == "Domain is mandatory for this action.", e.data["Message"])


@test
def ip_reports_from_every_client():
    cases = [
        (LISTED_IP, "3", None, None),
        (LISTED_IP, "3", "ThreatTypes,Intelligences", None),
        (LISTED_IP, "3", ALL_FIELDS, "en"),
        (IP_IN_NETWORK, "3", None, "en"),
        (RESOLVER_IP, "0", None, None),
        (RESOLVER_IP, "0", ALL_FIELDS, "en"),
        (UNKNOWN_IP, "-1", ALL_FIELDS, None),
    ]
    for name, call in IP_CLIENTS.items():
        for ip, level, field, lang in cases:
            try:
                check_ip_report(call(ip, field, lang), ip, level, field, lang)
            except CheckFailed as e:
                raise CheckFailed(f"{name} {ip} Field={field} ServiceLang={lang}: {e}")


@test
def ip_xml_bodies():
    for request in (IP_REPORT.legacy_request(LISTED_IP, "ThreatTypes"),
                    IP_REPORT.legacy_common_request(LISTED_IP, "ThreatTypes")):
        request.set_accept_format("XML")
        raw = legacy_client().do_action(request)
        check(raw.startswith(b"<?xml"), f"XML body expected: {raw[:200]!r}")
        root = ET.fromstring(raw)
        check(root.tag == "DescribeIpReportResponse", f"XML root {root.tag}")
        check([child.tag for child in root] == IP_REPORT_KEYS, f"XML elements {list(root)}")
        check(root.findtext("Ip/ip") == LISTED_IP, "XML <Ip><ip>")
        check(root.findtext("ThreatLevel") == "3", "XML ThreatLevel")
        check(root.findtext("ThreatTypes/threat_type") == "C&C Server", "XML threat_type")
        check(REQUEST_ID.match(root.findtext("RequestId") or ""), "XML RequestId")


@test
def ip_missing_and_invalid_parameters():
    for bad in ["1.2.3", "::g", "10.0.0.0/8", "1.2.3.4:80"]:
        for v1 in (False, True):
            with raises_tea("InvalidParameter", 400):
                IP_REPORT.tea_call(bad, v1=v1)
            check("Ip" in RAISED[-1].data["Message"], RAISED[-1].data["Message"])
        with raises_legacy("InvalidParameter", 400):
            legacy_json(IP_REPORT.legacy_request(bad), IP_REPORT_KEYS)
        with raises_legacy("InvalidParameter", 400):
            legacy_json(IP_REPORT.legacy_common_request(bad), IP_REPORT_KEYS)
    with raises_tea("InvalidParameter", 400):
        IP_REPORT.tea_call(LISTED_IP, field="Basic")
    for v1 in (False, True):
        try:
            tea_client(v1).describe_ip_report(sasti_models.DescribeIpReportRequest())
            raise CheckFailed("no exception without Ip")
        except tea_exceptions.ClientException as e:
            check(e.code == "MissingIp", f"code {e.code}")
            check(e.data["Message"] == "Ip is mandatory for this action.", e.data["Message"])
    without_ip = CommonRequest(domain=ARGS.endpoint, version="2020-05-12",
                               action_name="DescribeIpReport")
    without_ip.set_protocol_type(legacy_protocol_type())
    with raises_legacy("MissingIp", 400):
        legacy_json(without_ip, IP_REPORT_KEYS)


@test
def file_reports_from_every_client():
    cases = [
        (FILE_SHA256, "3", None, None),
        (FILE_SHA256.upper(), "3", "ThreatTypes,Intelligences", None),
        (FILE_MD5, "3", ALL_FIELDS, "en"),
        (FILE_SHA1, "3", "Intelligences", "en"),
        (UNKNOWN_FILE, "-1", ALL_FIELDS, None),
    ]
    for name, call in FILE_CLIENTS.items():
        for file_hash, level, field, lang in cases:
            try:
                check_file_report(call(file_hash, field, lang), file_hash, level, field)
            except CheckFailed as e:
                raise CheckFailed(f"{name} {file_hash} Field={field} ServiceLang={lang}: {e}")


@test
def file_xml_bodies():
    for request in (FILE_REPORT.legacy_request(FILE_SHA256, "ThreatTypes"),
                    FILE_REPORT.legacy_common_request(FILE_SHA256, "ThreatTypes")):
        request.set_accept_format("XML")
        raw = legacy_client().do_action(request)
        check(raw.startswith(b"<?xml"), f"XML body expected: {raw[:200]!r}")
        root = ET.fromstring(raw)
        check(root.tag == "DescribeFileReportResponse", f"XML root {root.tag}")
        check([child.tag for child in root] == FILE_REPORT_KEYS, f"XML elements {list(root)}")
        check(root.findtext("FileHash") == FILE_SHA256, "XML FileHash")
        check(root.findtext("Basic/md5") == FILE_MD5, "XML <Basic><md5>")
        check(root.findtext("ThreatLevel") == "3", "XML ThreatLevel")
        check(root.findtext("ThreatTypes/threat_type") == "Malware", "XML threat_type")
        check(REQUEST_ID.match(root.findtext("RequestId") or ""), "XML RequestId")


@test
def file_missing_and_invalid_parameters():
    for bad in ["abc", "a" * 33, "a" * 31 + "g", "0x" + "a" * 30, FILE_MD5 + ".exe"]:
        for v1 in (False, True):
            with raises_tea("InvalidParameter", 400):
                FILE_REPORT.tea_call(bad, v1=v1)
            check("FileHash" in RAISED[-1].data["Message"], RAISED[-1].data["Message"])
        with raises_legacy("InvalidParameter", 400):
            legacy_json(FILE_REPORT.legacy_request(bad), FILE_REPORT_KEYS)
        with raises_legacy("InvalidParameter", 400):
            legacy_json(FILE_REPORT.legacy_common_request(bad), FILE_REPORT_KEYS)
    for v1 in (False, True):
        try:
            tea_client(v1).describe_file_report(sasti_models.DescribeFileReportRequest())
            raise CheckFailed("no exception without FileHash")
        except tea_exceptions.ClientException as e:
            check(e.code == "MissingFileHash", f"code {e.code}")
            check(e.data["Message"] == "FileHash is mandatory for this action.",
                  e.data["Message"])
    without_hash = CommonRequest(domain=ARGS.endpoint, version="2020-05-12",
                                 action_name="DescribeFileReport")
    without_hash.set_protocol_type(legacy_protocol_type())
    with raises_legacy("MissingFileHash", 400):
        legacy_json(without_hash, FILE_REPORT_KEYS)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True, help="127.0.0.1:PORT")
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--limited-key", required=True, help="a key with rate_per_sec = 3")
    parser.add_argument("--limited-secret", required=True)
    parser.add_argument("--protocol", choices=["http", "https"], default="http")
    parser.add_argument("--ca", help="the PEM CA file the SDKs trust (with --protocol https)")
    parser.add_argument("-k", dest="only", help="run only tests whose name contains this")
    ARGS = parser.parse_args()
    if not ARGS.endpoint.startswith("127.0.0.1:"):
        sys.exit("the SDK tests talk only to 127.0.0.1")
    started = time.monotonic()
    passed = 0
    for fn in TESTS:
        if ARGS.only and ARGS.only not in fn.__name__:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"ok     {fn.__name__} ({time.monotonic() - t0:.1f}s)")
        except CheckFailed as e:
            FAILURES.append(f"{fn.__name__}: {e}")
            print(f"FAILED {fn.__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - an SDK exception is a failure to report
            FAILURES.append(f"{fn.__name__}: {type(e).__name__}: {e}")
            print(f"FAILED {fn.__name__}: unexpected {type(e).__name__}: {e}")
            traceback.print_exc()
    print(f"{passed} passed, {len(FAILURES)} failed ({CHECKS[0]} checks, "
          f"{time.monotonic() - started:.1f}s)")
    if FAILURES:
        print("\nFailures:", file=sys.stderr)
        for failure in FAILURES:
            print(f"  - {failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
