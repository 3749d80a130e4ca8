"""The deploy job's config.xml (a Pipeline job, `flow-definition`), built and compared semantically.

Jenkins re-serialises a posted config.xml (plugin versions in attributes, added defaults, element order), so
the text never compares equal; what ci-ecs manages is compared instead: the description, the `TAG` string
parameter and the pipeline definition (class, script, sandbox). An update changes only those elements of the
job's current config.xml: properties, triggers or build discarders someone added stay as they are.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ci_ecs.errors import ConfigError

PIPELINE_ROOT = "flow-definition"  # org.jenkinsci.plugins.workflow.job.WorkflowJob
CPS_DEFINITION = "org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"
PARAMETERS_PROPERTY = "hudson.model.ParametersDefinitionProperty"
STRING_PARAMETER = "hudson.model.StringParameterDefinition"
TAG_PARAMETER = "TAG"


@dataclass(frozen=True)
class JobSpec:
    """What ci-ecs manages in the job: compared field by field, never as text."""

    description: str
    script: str
    tag_default: str
    tag_description: str = "Image tag to deploy (empty: the config's image.tag)"
    sandbox: bool = True


def _text(parent: ET.Element | None, path: str) -> str:
    node = parent.find(path) if parent is not None else None
    return (node.text or "") if node is not None else ""


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = text
    return node


def _tag_parameter(spec: JobSpec) -> ET.Element:
    node = ET.Element(STRING_PARAMETER)
    _sub(node, "name", TAG_PARAMETER)
    _sub(node, "description", spec.tag_description)
    _sub(node, "defaultValue", spec.tag_default)
    _sub(node, "trim", "true")
    return node


def _definition(spec: JobSpec) -> ET.Element:
    node = ET.Element("definition", {"class": CPS_DEFINITION, "plugin": "workflow-cps"})
    _sub(node, "script", spec.script)
    _sub(node, "sandbox", "true" if spec.sandbox else "false")
    return node


def render_config(spec: JobSpec) -> str:
    """A new Pipeline job's config.xml for `spec`."""
    root = ET.Element(PIPELINE_ROOT, {"plugin": "workflow-job"})
    _sub(root, "actions")
    _sub(root, "description", spec.description)
    _sub(root, "keepDependencies", "false")
    properties = _sub(root, "properties")
    definitions = _sub(_sub(properties, PARAMETERS_PROPERTY), "parameterDefinitions")
    definitions.append(_tag_parameter(spec))
    root.append(_definition(spec))
    _sub(root, "triggers")
    _sub(root, "disabled", "false")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False) + "\n"


def _parse(xml_text: str, job: str) -> ET.Element:
    try:
        root = ET.fromstring(xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text)
    except ET.ParseError as exc:
        raise ConfigError(f"job {job}: its config.xml is not XML ({exc})", key="--job") from None
    if root.tag != PIPELINE_ROOT:
        raise ConfigError(f"job {job} exists and is not a Pipeline job (its config.xml is <{root.tag}>); "
                          "choose another --job name", key="--job")
    return root


def _tag_definition(root: ET.Element) -> ET.Element | None:
    for node in root.findall(f"properties/{PARAMETERS_PROPERTY}/parameterDefinitions/*"):
        if _text(node, "name") == TAG_PARAMETER:
            return node
    return None


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n")


def managed_fields(xml_text: str, job: str) -> dict[str, object]:
    """The fields ci-ecs manages, read from a job's config.xml (the unit of the semantic comparison)."""
    root = _parse(xml_text, job)
    tag = _tag_definition(root)
    definition = root.find("definition")
    return {
        "description": _normal(_text(root, "description")).strip(),
        "tag": None if tag is None else {
            "type": tag.tag, "default": _text(tag, "defaultValue"),
            "description": _normal(_text(tag, "description")).strip(),
            "trim": _text(tag, "trim").strip() == "true",
        },
        "definition": None if definition is None else {
            "class": definition.get("class"), "script": _normal(_text(definition, "script")),
            "sandbox": _text(definition, "sandbox").strip() == "true",
        },
    }


def wanted_fields(spec: JobSpec) -> dict[str, object]:
    """`managed_fields` of the config.xml `render_config(spec)` would write."""
    return managed_fields(render_config(spec), "(new)")


def differences(current_xml: str, spec: JobSpec, job: str) -> list[str]:
    """Names of the managed fields that differ between the job's config.xml and `spec` ([] = unchanged)."""
    current = managed_fields(current_xml, job)
    wanted = wanted_fields(spec)
    return [name for name in wanted if current.get(name) != wanted[name]]


def merge_config(current_xml: str, spec: JobSpec, job: str) -> str:
    """The job's config.xml with the managed elements set from `spec`; everything else kept."""
    root = _parse(current_xml, job)
    description = root.find("description")
    if description is None:
        description = ET.Element("description")
        root.insert(0, description)
    description.text = spec.description
    properties = root.find("properties")
    if properties is None:
        properties = _sub(root, "properties")
    prop = properties.find(PARAMETERS_PROPERTY)
    if prop is None:
        prop = _sub(properties, PARAMETERS_PROPERTY)
    definitions = prop.find("parameterDefinitions")
    if definitions is None:
        definitions = _sub(prop, "parameterDefinitions")
    old = _tag_definition(root)
    new = _tag_parameter(spec)
    if old is None:
        definitions.append(new)
    else:
        definitions.insert(list(definitions).index(old), new)
        definitions.remove(old)
    definition = root.find("definition")
    if definition is None:
        root.append(_definition(spec))
    else:
        index = list(root).index(definition)
        root.remove(definition)
        root.insert(index, _definition(spec))
    return ET.tostring(root, encoding="unicode", xml_declaration=False) + "\n"
