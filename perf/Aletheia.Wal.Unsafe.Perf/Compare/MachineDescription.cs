using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>What the comparison section says of the machine: read from /proc and the runtime, "unknown" where a file is missing.</summary>
internal static class MachineDescription
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    /// <summary>One line each: CPU and cores, memory, OS and kernel, .NET and GC, the disk and file system of <paramref name="root"/>.</summary>
    public static IReadOnlyList<string> Describe(string root) =>
    [
        $"CPU: {Cpu()}, {Environment.ProcessorCount} cores visible to .NET",
        $"Memory: {Memory()}",
        $"OS: {OperatingSystemName()}, kernel {FirstLine("/proc/sys/kernel/osrelease")}",
        $".NET: {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.ProcessArchitecture}), {(GCSettings.IsServerGC ? "server" : "workstation")} GC, concurrent {(AppContext.TryGetSwitch("System.GC.Concurrent", out bool concurrent) && concurrent ? "on" : "off")} (the perf project's settings; every child runs with them)",
        $"Disk of --root ({root}): {Disk(root)}",
    ];

    /// <summary>The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.</summary>
    public static string LoadAverage()
    {
        string line = FirstLine("/proc/loadavg");
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 3 ? $"{parts[0]} / {parts[1]} / {parts[2]}" : line;
    }

    private static string Cpu()
    {
        string? model = ReadLines("/proc/cpuinfo")
            .Where(l => l.StartsWith("model name", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim())
            .FirstOrDefault();
        return model ?? RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string Memory()
    {
        string? total = ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (total is not null && long.TryParse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.None, s_inv, out long kib))
        {
            return (kib / 1024.0 / 1024.0).ToString("F1", s_inv) + " GiB";
        }

        return "unknown";
    }

    private static string OperatingSystemName()
    {
        string? pretty = ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
        return pretty is null ? RuntimeInformation.OSDescription : pretty["PRETTY_NAME=".Length..].Trim('"');
    }

    // The mount whose point is the longest prefix of the root's full path: its device and file system type.
    private static string Disk(string root)
    {
        string full = Path.GetFullPath(root);
        string[]? best = null;
        foreach (string line in ReadLines("/proc/mounts"))
        {
            string[] fields = line.Split(' ');
            if (fields.Length < 3)
            {
                continue;
            }

            string point = fields[1].Replace("\\040", " ", StringComparison.Ordinal);
            bool under = full == point || full.StartsWith(point.EndsWith('/') ? point : point + "/", StringComparison.Ordinal);
            if (under && (best is null || point.Length >= best[1].Length))
            {
                best = fields;
            }
        }

        string size;
        try
        {
            var drive = new DriveInfo(full);
            size = $"{drive.TotalSize / (1024.0 * 1024 * 1024):F0} GiB, {drive.AvailableFreeSpace / (1024.0 * 1024 * 1024):F0} GiB free";
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            size = "size unknown";
        }

        return best is null ? $"mount unknown, {size}" : $"{best[0]}, {best[2]} mounted on {best[1]}, {size}";
    }

    private static string FirstLine(string path) => ReadLines(path).FirstOrDefault()?.Trim() ?? "unknown";

    private static IEnumerable<string> ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
