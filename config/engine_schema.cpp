#include "config/engine_schema.hpp"

#include <cctype>

namespace cssh::config::engine_schema {
namespace {

using enum value_kind;
using enum placement;

// Leaf structures first: each table may only point at tables defined above it.
// Field names and JSON names follow github.com/docker/docker/api/types (container, mount,
// network, blkiodev, strslice) and go-units' Ulimit; API 1.41 is what this Engine speaks, and
// keys newer Engines added are kept (an older Engine ignores JSON fields it does not know).

// ---- ContainerConfig ---------------------------------------------------------------------

constexpr field healthcheck_fields[] = {
    {"test", "Test", text_or_list},
    {"interval", "Interval", duration},
    {"timeout", "Timeout", duration},
    {"startperiod", "StartPeriod", duration},
    {"startinterval", "StartInterval", duration},  // API 1.44
    {"retries", "Retries", integer},
};
constexpr structure healthcheck{"Healthcheck", healthcheck_fields};

constexpr std::string_view per_session = "set by the server for each session";

constexpr field container_fields[] = {
    {"hostname", "Hostname", text},
    {"domainname", "Domainname", text},
    {"user", "User", text},
    {"attachstdin", "AttachStdin", boolean, nullptr, server_set, per_session},
    {"attachstdout", "AttachStdout", boolean, nullptr, server_set, per_session},
    {"attachstderr", "AttachStderr", boolean, nullptr, server_set, per_session},
    {"exposedports", "ExposedPorts", text_set},
    {"tty", "Tty", boolean, nullptr, server_set, per_session},
    {"openstdin", "OpenStdin", boolean, nullptr, server_set, per_session},
    {"stdinonce", "StdinOnce", boolean, nullptr, server_set, per_session},
    {"env", "Env", text_list},
    {"cmd", "Cmd", text_or_list},
    {"healthcheck", "Healthcheck", object, &healthcheck},
    {"argsescaped", "ArgsEscaped", boolean},
    {"image", "Image", text},
    {"volumes", "Volumes", text_set},
    {"workingdir", "WorkingDir", text},
    {"entrypoint", "Entrypoint", text_or_list},
    {"networkdisabled", "NetworkDisabled", boolean},
    {"macaddress", "MacAddress", text},
    {"onbuild", "OnBuild", text_list},
    {"labels", "Labels", text_map},
    {"stopsignal", "StopSignal", text},
    {"stoptimeout", "StopTimeout", integer},
    {"shell", "Shell", text_or_list},
};

// ---- HostConfig: mounts --------------------------------------------------------------------

constexpr field bind_options_fields[] = {
    {"propagation", "Propagation", text},
    {"nonrecursive", "NonRecursive", boolean},
    {"createmountpoint", "CreateMountpoint", boolean},              // API 1.42
    {"readonlynonrecursive", "ReadOnlyNonRecursive", boolean},      // API 1.44
    {"readonlyforcerecursive", "ReadOnlyForceRecursive", boolean},  // API 1.44
};
constexpr structure bind_options{"BindOptions", bind_options_fields};

constexpr field driver_fields[] = {
    {"name", "Name", text},
    {"options", "Options", text_map},
};
constexpr structure driver{"Driver", driver_fields};

constexpr field volume_options_fields[] = {
    {"nocopy", "NoCopy", boolean},
    {"labels", "Labels", text_map},
    {"subpath", "Subpath", text},  // API 1.45
    {"driverconfig", "DriverConfig", object, &driver},
};
constexpr structure volume_options{"VolumeOptions", volume_options_fields};

constexpr field image_options_fields[] = {
    {"subpath", "Subpath", text},  // API 1.47
};
constexpr structure image_options{"ImageOptions", image_options_fields};

constexpr field tmpfs_options_fields[] = {
    {"sizebytes", "SizeBytes", integer},
    {"mode", "Mode", unsigned_integer},  // a file mode: write it in octal, 0755
    {"options", "Options", text_list_list},  // API 1.46
};
constexpr structure tmpfs_options{"TmpfsOptions", tmpfs_options_fields};

constexpr field mount_fields[] = {
    {"type", "Type", text},
    {"source", "Source", text},
    {"target", "Target", text},
    {"readonly", "ReadOnly", boolean},
    {"consistency", "Consistency", text},
    {"bindoptions", "BindOptions", object, &bind_options},
    {"volumeoptions", "VolumeOptions", object, &volume_options},
    {"imageoptions", "ImageOptions", object, &image_options},
    {"tmpfsoptions", "TmpfsOptions", object, &tmpfs_options},
};
constexpr structure mount{"Mount", mount_fields};

// ---- HostConfig: other nested structures ---------------------------------------------------

constexpr field log_config_fields[] = {
    {"type", "Type", text},
    {"config", "Config", text_map},
};
constexpr structure log_config{"LogConfig", log_config_fields};

constexpr field port_binding_fields[] = {
    {"hostip", "HostIp", text},
    {"hostport", "HostPort", text},
};
constexpr structure port_binding{"PortBinding", port_binding_fields};

constexpr field restart_policy_fields[] = {
    {"name", "Name", text},
    {"maximumretrycount", "MaximumRetryCount", integer},
};
constexpr structure restart_policy{"RestartPolicy", restart_policy_fields};

constexpr field weight_device_fields[] = {
    {"path", "Path", text},
    {"weight", "Weight", unsigned_integer},
};
constexpr structure weight_device{"WeightDevice", weight_device_fields};

constexpr field throttle_device_fields[] = {
    {"path", "Path", text},
    {"rate", "Rate", unsigned_integer},
};
constexpr structure throttle_device{"ThrottleDevice", throttle_device_fields};

constexpr field device_mapping_fields[] = {
    {"pathonhost", "PathOnHost", text},
    {"pathincontainer", "PathInContainer", text},
    {"cgrouppermissions", "CgroupPermissions", text},
};
constexpr structure device_mapping{"DeviceMapping", device_mapping_fields};

constexpr field device_request_fields[] = {
    {"driver", "Driver", text},
    {"count", "Count", integer},
    {"deviceids", "DeviceIDs", text_list},
    {"capabilities", "Capabilities", text_list_list},
    {"options", "Options", text_map},
};
constexpr structure device_request{"DeviceRequest", device_request_fields};

constexpr field ulimit_fields[] = {
    {"name", "Name", text},
    {"hard", "Hard", integer},
    {"soft", "Soft", integer},
};
constexpr structure ulimit{"Ulimit", ulimit_fields};

// ---- HostConfig.Resources (inlined into HostConfig on the wire) -----------------------------

constexpr field resources_fields[] = {
    {"cpushares", "CpuShares", integer},
    {"memory", "Memory", integer},
    {"nanocpus", "NanoCpus", integer},
    {"cgroupparent", "CgroupParent", text},
    {"blkioweight", "BlkioWeight", unsigned_integer},
    {"blkioweightdevice", "BlkioWeightDevice", object_list, &weight_device},
    {"blkiodevicereadbps", "BlkioDeviceReadBps", object_list, &throttle_device},
    {"blkiodevicewritebps", "BlkioDeviceWriteBps", object_list, &throttle_device},
    {"blkiodevicereadiops", "BlkioDeviceReadIOps", object_list, &throttle_device},
    {"blkiodevicewriteiops", "BlkioDeviceWriteIOps", object_list, &throttle_device},
    {"cpuperiod", "CpuPeriod", integer},
    {"cpuquota", "CpuQuota", integer},
    {"cpurealtimeperiod", "CpuRealtimePeriod", integer},
    {"cpurealtimeruntime", "CpuRealtimeRuntime", integer},
    // The seed document's name for the realtime runtime; the Engine has no other field it could mean.
    {"cpurealtimequota", "CpuRealtimeRuntime", integer, nullptr, here, "the seed's name for cpurealtimeruntime"},
    {"cpusetcpus", "CpusetCpus", text},
    {"cpusetmems", "CpusetMems", text},
    {"devices", "Devices", object_list, &device_mapping},
    {"devicecgrouprules", "DeviceCgroupRules", text_list},
    {"devicerequests", "DeviceRequests", object_list, &device_request},
    {"kernelmemory", "KernelMemory", integer},
    {"kernelmemorytcp", "KernelMemoryTCP", integer},
    {"memoryreservation", "MemoryReservation", integer},
    {"memoryswap", "MemorySwap", integer},
    {"memoryswappiness", "MemorySwappiness", integer},
    {"oomkilldisable", "OomKillDisable", boolean},
    {"pidslimit", "PidsLimit", integer},
    {"ulimits", "Ulimits", object_list, &ulimit},
    {"cpucount", "CpuCount", integer},
    {"cpupercent", "CpuPercent", integer},
    {"iomaximumiops", "IOMaximumIOps", unsigned_integer},
    {"iomaximumbandwidth", "IOMaximumBandwidth", unsigned_integer},
};
constexpr structure resources{"Resources", resources_fields};

constexpr field host_fields[] = {
    {"binds", "Binds", text_list},
    {"containeridfile", "ContainerIDFile", text},
    {"logconfig", "LogConfig", object, &log_config},
    {"networkmode", "NetworkMode", text},
    {"portbindings", "PortBindings", object_list_map, &port_binding},
    {"restartpolicy", "RestartPolicy", object, &restart_policy},
    {"autoremove", "AutoRemove", boolean, nullptr, not_sent,
     "ignored: the server removes each container itself when its session ends"},
    {"volumedriver", "VolumeDriver", text},
    {"volumesfrom", "VolumesFrom", text_list},
    {"consolesize", "ConsoleSize", text_list, nullptr, server_set, "set by the server from the client's terminal"},
    {"annotations", "Annotations", text_map},  // API 1.43
    {"capadd", "CapAdd", text_or_list},
    {"capdrop", "CapDrop", text_or_list},
    {"cgroupnsmode", "CgroupnsMode", text},
    {"dns", "Dns", text_list},
    {"dnsoptions", "DnsOptions", text_list},
    {"dnssearch", "DnsSearch", text_list},
    {"extrahosts", "ExtraHosts", text_list},
    {"groupadd", "GroupAdd", text_list},
    {"ipcmode", "IpcMode", text},
    {"cgroup", "Cgroup", text},
    {"links", "Links", text_list},
    {"oomscoreadj", "OomScoreAdj", integer},
    {"pidmode", "PidMode", text},
    {"privileged", "Privileged", boolean},
    {"publishallports", "PublishAllPorts", boolean},
    {"readonlyrootfs", "ReadonlyRootfs", boolean},
    {"securityopt", "SecurityOpt", text_list},
    {"storageopt", "StorageOpt", text_map},
    {"tmpfs", "Tmpfs", text_map},
    {"utsmode", "UTSMode", text},
    {"usernsmode", "UsernsMode", text},
    {"shmsize", "ShmSize", integer},
    {"sysctls", "Sysctls", text_map},
    {"runtime", "Runtime", text},
    {"isolation", "Isolation", text},
    {"resources", "Resources", object, &resources, inline_fields},
    {"mounts", "Mounts", object_list, &mount},
    {"maskedpaths", "MaskedPaths", text_list},
    {"readonlypaths", "ReadonlyPaths", text_list},
    {"init", "Init", boolean},
    // Not a HostConfig field: the seed writes `host: {networkDisabled: true}`; the Engine reads it
    // from the container config.
    {"networkdisabled", "NetworkDisabled", boolean, nullptr, container},
};

// ---- NetworkingConfig ----------------------------------------------------------------------

constexpr field ipam_fields[] = {
    {"ipv4address", "IPv4Address", text},
    {"ipv6address", "IPv6Address", text},
    {"linklocalips", "LinkLocalIPs", text_list},
};
constexpr structure ipam{"EndpointIPAMConfig", ipam_fields};

constexpr field endpoint_fields[] = {
    {"ipamconfig", "IPAMConfig", object, &ipam},
    {"links", "Links", text_list},
    {"aliases", "Aliases", text_list},
    {"macaddress", "MacAddress", text},  // API 1.44
    {"driveropts", "DriverOpts", text_map},
    {"gwpriority", "GwPriority", integer},  // API 1.48
    {"networkid", "NetworkID", text},
    {"endpointid", "EndpointID", text},
    {"gateway", "Gateway", text},
    {"ipaddress", "IPAddress", text},
    {"ipprefixlen", "IPPrefixLen", integer},
    {"ipv6gateway", "IPv6Gateway", text},
    {"globalipv6address", "GlobalIPv6Address", text},
    {"globalipv6prefixlen", "GlobalIPv6PrefixLen", integer},
    {"dnsnames", "DNSNames", text_list},  // API 1.44
};
constexpr structure endpoint_settings{"EndpointSettings", endpoint_fields};

constexpr field networking_fields[] = {
    {"endpointsconfig", "EndpointsConfig", object_map, &endpoint_settings},
};

// ---- Platform ------------------------------------------------------------------------------

constexpr std::string_view not_in_create =
    "ignored: the Engine's create call takes only os, architecture and variant (platform=os/arch/variant)";

constexpr field platform_fields[] = {
    {"architecture", "architecture", text},
    {"os", "os", text},
    {"osversion", "os.version", text, nullptr, not_sent, not_in_create},
    {"osfeatures", "os.features", text_list, nullptr, not_sent, not_in_create},
    {"variant", "variant", text},
};

bool same_key(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

const structure container_config{"ContainerConfig", container_fields};
const structure host_config{"HostConfig", host_fields};
const structure networking_config{"NetworkingConfig", networking_fields};
const structure platform{"Platform", platform_fields};

const field* find_field(const structure& s, std::string_view key) {
  for (const field& f : s.fields)
    if (same_key(f.key, key)) return &f;
  return nullptr;
}

}  // namespace cssh::config::engine_schema
