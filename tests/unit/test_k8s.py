"""The Kubernetes manifests stay in step with the code: the ConfigMap's YAML
loads with the real config loader, and the ports agree."""

import os

import yaml

from cluster.config import load_config

K8S = os.path.join(os.path.dirname(__file__), "..", "..", "k8s")


def _docs(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def test_configmap_yaml_loads_with_the_real_loader(tmp_path):
    (cm,) = _docs("configmap.yaml")
    path = tmp_path / "damselfly.yaml"
    path.write_text(cm["data"]["damselfly.yaml"])
    config = load_config(["--config", str(path)])
    assert config.bind == "0.0.0.0"
    assert config.dir == "/data"
    assert config.cluster_mode == "emulated"
    assert config.maxmemory == 3 * 1024**3


def test_manifests_agree_on_port_and_labels(tmp_path):
    (cm,) = _docs("configmap.yaml")
    port = yaml.safe_load(cm["data"]["damselfly.yaml"])["port"]
    (sts,) = _docs("statefulset.yaml")
    (svc,) = _docs("service.yaml")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == port
    assert svc["spec"]["ports"][0]["port"] == port
    assert svc["spec"]["selector"] == sts["spec"]["template"]["metadata"]["labels"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/damselfly" in mounts and "/data" in mounts


def test_maxmemory_leaves_headroom_below_the_pod_memory_limit():
    """Startup would warn otherwise (cluster/cgroups.py): the kernel kills a
    pod at its limit before eviction can act."""
    (cm,) = _docs("configmap.yaml")
    (sts,) = _docs("statefulset.yaml")
    limit = sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert limit.endswith("Gi")
    maxmemory = yaml.safe_load(cm["data"]["damselfly.yaml"])["maxmemory"]
    assert maxmemory.endswith("gb") and int(maxmemory[:-2]) < int(limit[:-2])
