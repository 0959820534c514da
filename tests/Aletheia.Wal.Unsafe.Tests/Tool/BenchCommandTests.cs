using System.Text.Json;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Aletheia.Wal.Tool;
using Aletheia.Wal.Tool.Bench;
using Spectre.Console.Testing;
using Xunit;
using static Aletheia.Wal.Tests.Support.ToolRun;

namespace Aletheia.Wal.Tests.Tool;

/// <summary>
/// <c>aletheia-wal bench</c> through its real entry point (<see cref="WalTool.Run"/>) with a recording console, on short
/// durations: what it reports, that the verification counts exactly the records the workloads reported appending and
/// fails on a damaged log, its usage errors, and what it does with directories.
/// </summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Runs the tool with <c>--json</c>: the report (the output is one JSON object) and the error lines.</summary>
    private static (int Exit, JsonElement Report, string Errors) RunJson(params string[] args)
    {
        (int exit, string output, string errors) = Run([.. args, "--json"]);
        using JsonDocument document = JsonDocument.Parse(output);
        return (exit, document.RootElement.Clone(), errors);
    }

    private static JsonElement[] Workloads(JsonElement report) => report.GetProperty("workloads").EnumerateArray().ToArray();

    private static JsonElement Workload(JsonElement report, string name) => Workloads(report).Single(w => w.GetProperty("name").GetString() == name);

    private static long Records(JsonElement report) => Workloads(report).Sum(w => w.GetProperty("records").GetInt64());

    [Fact]
    public void The_whole_tour_verifies_exactly_the_records_its_workloads_reported_and_deletes_its_temporary_directory()
    {
        (int exit, JsonElement report, string errors) = RunJson("bench", "--duration", "200ms");

        Assert.Equal(WalTool.Ok, exit);
        Assert.Equal("", errors);
        string[] names = Workloads(report).Select(w => w.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["warm-up-durable", "warm-up-async", "warm-up-burst", "durable-1", "durable-64", "async-256", "burst64", "burst1k"], names);
        Assert.Equal([true, true, true, false, false, false, false, false], Workloads(report).Select(w => w.GetProperty("warmUp").GetBoolean()));
        foreach (JsonElement workload in Workloads(report))
        {
            Assert.True(workload.GetProperty("records").GetInt64() > 0, $"{workload.GetProperty("name")} appended nothing in 200 ms");
        }

        // Every durable append is timed; bursts time none (an Append does not wait), their Flush instead.
        foreach (string name in (string[])["durable-1", "durable-64", "async-256"])
        {
            JsonElement workload = Workload(report, name);
            Assert.Equal(workload.GetProperty("records").GetInt64(), workload.GetProperty("latencyMicroseconds").GetProperty("count").GetInt64());
        }

        Assert.Equal(JsonValueKind.Null, Workload(report, "burst64").GetProperty("latencyMicroseconds").ValueKind);
        Assert.True(Workload(report, "burst1k").GetProperty("flushMilliseconds").GetDouble() >= 0);
        Assert.Equal("process", Workload(report, "async-256").GetProperty("allocationScope").GetString());
        Assert.Equal("appendingThreads", Workload(report, "durable-64").GetProperty("allocationScope").GetString());

        JsonElement verification = report.GetProperty("verification");
        Assert.True(verification.GetProperty("passed").GetBoolean(), verification.GetProperty("problem").GetString());
        Assert.Equal(Records(report), verification.GetProperty("records").GetInt64());
        Assert.Equal(1UL, verification.GetProperty("firstLsn").GetUInt64());
        Assert.Equal((ulong)Records(report), verification.GetProperty("lastLsn").GetUInt64());
        Assert.Equal(JsonValueKind.Null, verification.GetProperty("firstBadLsn").ValueKind);

        JsonElement reference = report.GetProperty("reference");
        Assert.Equal(RawWriteThrough.LargeWriteBytes, reference.GetProperty("writeThroughLarge").GetProperty("writeBytes").GetInt32());
        Assert.True(reference.GetProperty("writeThroughLarge").GetProperty("writes").GetInt64() > 0);
        Assert.Equal(RawWriteThrough.SmallWriteBytes, reference.GetProperty("writeThroughSmall").GetProperty("writeBytes").GetInt32());
        Assert.True(reference.GetProperty("writeThroughSmall").GetProperty("latencyMicroseconds").GetProperty("p50").GetDouble() > 0);

        Assert.Equal(Environment.ProcessorCount, report.GetProperty("machine").GetProperty("cores").GetInt32());
        Assert.Equal(64 << 20, report.GetProperty("settings").GetProperty("walOptions").GetProperty("SegmentSizeBytes").GetInt64());
        Assert.True(report.GetProperty("passed").GetBoolean());
        Assert.False(report.GetProperty("cancelled").GetBoolean());
        string directory = report.GetProperty("machine").GetProperty("directory").GetString()!;
        Assert.StartsWith(Path.GetTempPath(), directory, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory), "the bench deletes the temporary directory it ran in");
    }

    [Fact]
    public void The_log_options_given_are_the_tour_logs_and_the_notes_say_so()
    {
        (int exit, string output, string errors) = Run("bench", "--duration", "50ms", "--threads", "1", "--workloads", "durable,verify",
            "--stripes", "1", "--stripe-capacity", "256K", "--write-buffer", "128K", "--segment-size", "1M", "--json");

        Assert.Equal(WalTool.Ok, exit);
        Assert.Equal("", errors);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        System.Text.Json.JsonElement options = json.RootElement.GetProperty("settings").GetProperty("walOptions");
        Assert.Equal(1, options.GetProperty("StripeCount").GetInt64());
        Assert.Equal(256 << 10, options.GetProperty("StripeCapacityBytes").GetInt64());
        Assert.Equal(128 << 10, options.GetProperty("WriteBufferBytes").GetInt64());
        Assert.Equal(1 << 20, options.GetProperty("SegmentSizeBytes").GetInt64());
        Assert.Equal(65536, options.GetProperty("MaxEntryBytes").GetInt64());

        (exit, output, _) = Run("bench", "--duration", "50ms", "--threads", "1", "--workloads", "durable", "--stripes", "1", "--segment-size", "1M");
        Assert.Equal(WalTool.Ok, exit);
        Assert.Contains("WalOptions as given (--stripes 1, --segment-size 1M), the others at their defaults", output.ReplaceLineEndings(" "), StringComparison.Ordinal);
    }

    [Fact]
    public void The_table_has_a_row_for_each_requested_workload_and_no_other()
    {
        (int exit, string output, string errors) = Run("bench", "--duration", "200ms", "--threads", "2", "--workloads", "durable,burst1k,verify");

        Assert.Equal(WalTool.Ok, exit);
        Assert.Equal("", errors);
        Assert.Contains("│ AppendDurable, 2 threads ", output, StringComparison.Ordinal);
        Assert.Contains("│ Append burst, 1 KiB, then Flush ", output, StringComparison.Ordinal);
        Assert.Contains("│ verify: read back, every record ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("│ AppendDurable, 1 thread", output, StringComparison.Ordinal);
        Assert.DoesNotContain("│ AppendDurableAsync", output, StringComparison.Ordinal);
        Assert.DoesNotContain("│ Append burst, 64 B", output, StringComparison.Ordinal);
        Assert.DoesNotContain("raw write-through", output, StringComparison.Ordinal);
        Assert.Equal(4, output.Split('\n').Count(line => line.StartsWith("│ ", StringComparison.Ordinal))); // the header and three rows
        Assert.DoesNotContain("warm-up:", output, StringComparison.Ordinal); // no live progress on a console that is not interactive
        Assert.Contains("Machine: ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_whose_bytes_differ_fails_verification_with_its_LSN_and_the_given_directory_is_kept()
    {
        string directory = _temp.Log("bench");
        (int exit, JsonElement report, _) = RunJson("bench", "--directory", directory, "--workloads", "durable", "--threads", "1", "--duration", "200ms");
        Assert.Equal(WalTool.Ok, exit);
        Assert.True(Directory.Exists(directory), "a directory the user gave is never deleted");
        long written = Records(report);
        JsonElement durable = Workload(report, "durable-1");

        // A record of the same workload and producer, next in its sequence, but one byte of its body wrong: its CRC is
        // right (the log wrote it), only the bench's check can find it.
        byte[] payload = new byte[64];
        BenchRecord.Write(payload, workload: 0, producer: 0, durable.GetProperty("records").GetInt64());
        payload[40] ^= 0x10;
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            Assert.Equal((ulong)written + 1, log.AppendDurable(payload).Value);
        }

        string problem = $"workload 0, producer 0, record {durable.GetProperty("records").GetInt64()}: byte 40 of 64 differs from what was written.";
        (exit, JsonElement verify, string errors) = RunJson("bench", "--directory", directory, "--workloads", "verify");

        Assert.Equal(WalTool.Damaged, exit);
        Assert.Equal($"aletheia-wal: verification failed at LSN {written + 1}: {problem}\n", errors);
        JsonElement verification = verify.GetProperty("verification");
        Assert.False(verification.GetProperty("passed").GetBoolean());
        Assert.Equal((ulong)written + 1, verification.GetProperty("firstBadLsn").GetUInt64());
        Assert.Equal(written, verification.GetProperty("records").GetInt64());
        Assert.Equal(problem, verification.GetProperty("problem").GetString());
        Assert.False(verify.GetProperty("passed").GetBoolean());

        (exit, string table, errors) = Run("bench", "--directory", directory, "--workloads", "verify");
        Assert.Equal(WalTool.Damaged, exit);
        Assert.Equal($"aletheia-wal: verification failed at LSN {written + 1}: {problem}\n", errors);
        Assert.Contains("verify: FAILED", table, StringComparison.Ordinal);
        Assert.Contains($"Verify FAILED at LSN {written + 1}: {problem}", table, StringComparison.Ordinal);
        Assert.True(Directory.Exists(directory));
    }

    [Fact]
    public void A_flipped_byte_in_a_segment_fails_verification_as_damage_at_the_first_record_not_verified()
    {
        string directory = _temp.Log("bench");
        (int exit, JsonElement report, _) = RunJson("bench", "--directory", directory, "--workloads", "durable", "--threads", "1", "--duration", "200ms");
        Assert.Equal(WalTool.Ok, exit);
        long written = Records(report);
        ulong damaged = (ulong)written / 2;
        LogLayout layout = LogLayout.Read(directory);
        SegmentFiles.Flip(layout.BatchOf(damaged).Path, layout.FrameOffset(damaged) + FrameHeader.Size + 30);

        (exit, JsonElement verify, string errors) = RunJson("bench", "--directory", directory, "--workloads", "verify");

        Assert.Equal(WalTool.Damaged, exit);
        Assert.StartsWith($"aletheia-wal: verification failed at LSN {damaged}: the log is damaged: ", errors, StringComparison.Ordinal);
        JsonElement verification = verify.GetProperty("verification");
        Assert.Equal(damaged, verification.GetProperty("firstBadLsn").GetUInt64());
        Assert.Equal((long)damaged - 1, verification.GetProperty("records").GetInt64());
        Assert.StartsWith("the log is damaged: ", verification.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--threads", "0", "aletheia-wal: --threads takes thread counts from 1 to 4096, separated by commas (such as 1,64); '0' is not one.")]
    [InlineData("--threads", "1,x", "aletheia-wal: --threads takes thread counts from 1 to 4096, separated by commas (such as 1,64); 'x' is not one.")]
    [InlineData("--payload", "65537", "aletheia-wal: --payload must be from 16 bytes (a bench record's header: workload, producer, length, sequence) to 65536 bytes (WalOptions.MaxEntryBytes); it is '65537'.")]
    [InlineData("--payload", "15", "aletheia-wal: --payload must be from 16 bytes (a bench record's header: workload, producer, length, sequence) to 65536 bytes (WalOptions.MaxEntryBytes); it is '15'.")]
    [InlineData("--duration", "-1s", "aletheia-wal: --duration must be a time from 1ms to 1h, such as 200ms, 2.5s or 1m (a plain number is seconds); it is '-1s'.")]
    [InlineData("--duration", "soon", "aletheia-wal: --duration must be a time from 1ms to 1h, such as 200ms, 2.5s or 1m (a plain number is seconds); it is 'soon'.")]
    [InlineData("--in-flight", "0", "aletheia-wal: --in-flight must be from 1 to 4096 appends; it is '0'.")]
    [InlineData("--workloads", "durable,fast", "aletheia-wal: --workloads takes durable, async, burst64, burst1k, verify, raw, separated by commas; 'fast' is not one.")]
    [InlineData("--stripes", "two", "aletheia-wal: --stripes takes a whole number; it is 'two'.")]
    [InlineData("--stripe-capacity", "2K", "aletheia-wal: WalOptions.StripeCapacityBytes must be from 4096 to 1073741824 bytes; it is 2048.")]
    [InlineData("--write-buffer", "1M1", "aletheia-wal: --write-buffer takes a size in bytes, with an optional K, M or G (such as 65536 or 64K); it is '1M1'.")]
    [InlineData("--segment-size", "64", "aletheia-wal: WalOptions.SegmentSizeBytes must be from 65664 to 1099511627776 bytes with WalOptions.MaxEntryBytes 65536 (a segment holds its headers and the largest record); it is 64.")]
    [InlineData("--workloads", "verify", "aletheia-wal: --workloads verify without a workload that writes needs --directory: the log to verify (a fresh temporary directory holds none).")]
    public void A_bad_value_is_one_line_naming_it_and_what_is_allowed_with_exit_code_2(string option, string value, string message)
    {
        (int exit, string output, string errors) = Run("bench", option, value);

        Assert.Equal(WalTool.UsageError, exit);
        Assert.Equal("", output);
        Assert.Equal(message + "\n", errors);
    }

    [Fact]
    public void A_directory_that_holds_other_files_is_refused_and_left_as_it_was()
    {
        string directory = _temp.Log("mine");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "notes.txt"), "the user's");

        (int exit, _, string errors) = Run("bench", "--directory", directory, "--duration", "50ms");

        Assert.Equal(WalTool.UsageError, exit);
        Assert.Equal($"aletheia-wal: --directory '{directory}' is not empty and holds no log; give an empty or new directory (the bench writes a log there and deletes nothing of it).\n", errors);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(directory).Select(Path.GetFileName));
        Assert.Equal("the user's", File.ReadAllText(Path.Combine(directory, "notes.txt")));
    }

    [Fact]
    public void A_directory_that_holds_a_log_with_records_is_refused_for_a_run_that_writes()
    {
        string directory = _temp.Log("log");
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            log.AppendDurable(new byte[20]);
        }

        (int exit, _, string errors) = Run("bench", "--directory", directory, "--workloads", "durable,verify", "--duration", "50ms");

        Assert.Equal(WalTool.UsageError, exit);
        Assert.Equal(
            $"aletheia-wal: --directory '{directory}' holds a log with records (from LSN 1); the bench appends to an empty log only, so that every record it verifies is its own: give an empty directory, or --workloads verify to check this log.\n",
            errors);
        using WalReader reader = WalReader.Open(directory);
        Assert.True(reader.TryRead(out WalRecord record));
        Assert.Equal(20, record.Payload.Length);
        Assert.False(reader.TryRead(out _));
    }

    [Fact]
    public void An_empty_log_is_a_place_to_run_and_its_first_LSN_is_the_tours()
    {
        string directory = _temp.Log("empty-log");
        WriteAheadLog.Open(new WalOptions { Directory = directory }).Dispose();

        (int exit, JsonElement report, _) = RunJson("bench", "--directory", directory, "--workloads", "burst64,verify,raw", "--duration", "100ms");

        Assert.Equal(WalTool.Ok, exit);
        Assert.Equal(Records(report), report.GetProperty("verification").GetProperty("records").GetInt64());
        Assert.Equal(1UL, report.GetProperty("verification").GetProperty("firstLsn").GetUInt64());
        Assert.True(report.GetProperty("reference").GetProperty("writeThroughSmall").GetProperty("writes").GetInt64() > 0);
        Assert.False(File.Exists(Path.Combine(directory, RawWriteThrough.FileName)), "the raw reference's file is deleted once measured");
        Assert.Contains(Path.Combine(directory, "wal.head"), Directory.GetFiles(directory));
    }

    [Fact]
    public void Live_progress_is_drawn_on_an_interactive_console_only()
    {
        (int exit, string output, _) = Run(new TestConsole().Interactive().EmitAnsiSequences(), "bench", "--workloads", "raw", "--duration", "100ms");

        Assert.Equal(WalTool.Ok, exit);
        Assert.Contains("raw write-through: 1 MiB, then 4 KiB writes", output, StringComparison.Ordinal);
    }
}
