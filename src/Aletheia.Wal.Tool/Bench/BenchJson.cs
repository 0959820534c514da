using System.Text;
using System.Text.Json;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// The bench's report for programs (<c>--json</c>): one JSON object with every figure, written with
/// <see cref="Utf8JsonWriter"/> (no reflection: nothing for the trimming and AOT analyzers to warn about).
/// </summary>
/// <remarks>
/// Rates are per second, MB is 10^6 bytes, latencies are microseconds; a figure that was not measured is null. The
/// warm-ups are the first entries of <c>workloads</c> (<c>"warmUp": true</c>): their records are in the log and verified,
/// so the <c>records</c> of all entries add up to <c>verification.records</c>.
/// </remarks>
internal static class BenchJson
{
    public static string Write(BenchReport report)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            WriteMachine(json, report.Machine);
            WriteSettings(json, report);
            json.WriteStartArray("workloads");
            foreach (WorkloadResult workload in report.Workloads)
            {
                WriteWorkload(json, workload);
            }

            json.WriteEndArray();
            WriteVerification(json, report.Verification);
            json.WriteStartObject("reference");
            WriteRaw(json, "writeThroughLarge", report.RawLarge);
            WriteRaw(json, "writeThroughSmall", report.RawSmall);
            json.WriteEndObject();
            json.WriteBoolean("cancelled", report.Cancelled);
            json.WriteBoolean("passed", !report.Cancelled && report.Verification?.Passed != false);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteMachine(Utf8JsonWriter json, MachineDescription machine)
    {
        json.WriteStartObject("machine");
        json.WriteNumber("cores", machine.Cores);
        json.WriteString("os", machine.OperatingSystem);
        json.WriteString("runtime", machine.Runtime);
        json.WriteString("directory", machine.Directory);
        json.WriteString("fileSystem", machine.FileSystem);
        json.WriteEndObject();
    }

    private static void WriteSettings(Utf8JsonWriter json, BenchReport report)
    {
        BenchSettings settings = report.Settings;
        json.WriteStartObject("settings");
        json.WriteStartArray("threads");
        foreach (int threads in settings.Threads)
        {
            json.WriteNumberValue(threads);
        }

        json.WriteEndArray();
        json.WriteNumber("payloadBytes", settings.PayloadBytes);
        json.WriteNumber("durationSeconds", settings.Duration.TotalSeconds);
        json.WriteNumber("warmUpSeconds", settings.WarmUp.TotalSeconds);
        json.WriteNumber("inFlight", settings.InFlight);
        json.WriteStartArray("workloads");
        foreach (BenchWorkloads workload in Enum.GetValues<BenchWorkloads>().Where(w => w is not (BenchWorkloads.None or BenchWorkloads.Writers or BenchWorkloads.All)))
        {
            if (settings.Runs(workload))
            {
                json.WriteStringValue(BenchSettings.NameOf(workload));
            }
        }

        json.WriteEndArray();
        json.WriteStartObject("walOptions");
        foreach ((string name, long value) in report.LogOptions)
        {
            json.WriteNumber(name, value);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteWorkload(Utf8JsonWriter json, WorkloadResult workload)
    {
        json.WriteStartObject();
        json.WriteString("name", workload.Plan.Key);
        json.WriteString("label", workload.Plan.Label);
        json.WriteBoolean("warmUp", workload.Plan.WarmUp);
        json.WriteNumber("producers", workload.Plan.Producers);
        json.WriteNumber("payloadBytes", workload.Plan.PayloadBytes);
        json.WriteNumber("records", workload.Records);
        json.WriteNumber("seconds", workload.Seconds);
        json.WriteNumber("recordsPerSecond", workload.RecordsPerSecond);
        json.WriteNumber("megabytesPerSecond", workload.MegabytesPerSecond);
        WriteLatency(json, "latencyMicroseconds", workload.Latency);
        json.WriteNumber("allocatedBytesPerAppend", workload.AllocatedBytesPerAppend);
        json.WriteString("allocationScope", workload.Scope == AllocationScope.Process ? "process" : "appendingThreads");

        WriteNumberOrNull(json, "harnessBytesPerAppend", workload.HarnessBytesPerAppend);
        WriteNumberOrNull(json, "flushMilliseconds", workload.FlushMilliseconds);
        json.WriteString("stoppedBy", workload.StoppedBy);
        json.WriteEndObject();
    }

    private static void WriteVerification(Utf8JsonWriter json, VerificationResult? verification) => WriteObject(json, "verification", verification, static (json, verification) =>
    {
        json.WriteBoolean("passed", verification.Passed);
        json.WriteNumber("records", verification.Records);
        json.WriteNumber("payloadBytes", verification.PayloadBytes);
        json.WriteNumber("seconds", verification.Seconds);
        json.WriteNumber("recordsPerSecond", verification.RecordsPerSecond);
        json.WriteNumber("megabytesPerSecond", verification.MegabytesPerSecond);
        json.WriteNumber("firstLsn", verification.FirstLsn);
        json.WriteNumber("lastLsn", verification.LastLsn);
        if (verification.FirstBadLsn is { } bad)
        {
            json.WriteNumber("firstBadLsn", bad);
        }
        else
        {
            json.WriteNull("firstBadLsn");
        }

        json.WriteString("problem", verification.Problem);
    });

    private static void WriteRaw(Utf8JsonWriter json, string name, RawResult? raw) => WriteObject(json, name, raw, static (json, raw) =>
    {
        json.WriteNumber("writeBytes", raw.WriteBytes);
        json.WriteNumber("writes", raw.Writes);
        json.WriteNumber("seconds", raw.Seconds);
        json.WriteNumber("writesPerSecond", raw.WritesPerSecond);
        json.WriteNumber("megabytesPerSecond", raw.MegabytesPerSecond);
        WriteLatency(json, "latencyMicroseconds", raw.Latency);
    });

    private static void WriteLatency(Utf8JsonWriter json, string name, LatencySummary? latency) => WriteObject(json, name, latency, static (json, latency) =>
    {
        json.WriteNumber("count", latency.Count);
        json.WriteNumber("p50", latency.P50);
        json.WriteNumber("p99", latency.P99);
        json.WriteNumber("p999", latency.P999);
        json.WriteNumber("max", latency.Max);
    });

    // A figure not measured is null; one measured is an object.
    private static void WriteObject<T>(Utf8JsonWriter json, string name, T? value, Action<Utf8JsonWriter, T> body)
        where T : class
    {
        if (value is null)
        {
            json.WriteNull(name);
            return;
        }

        json.WriteStartObject(name);
        body(json, value);
        json.WriteEndObject();
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
