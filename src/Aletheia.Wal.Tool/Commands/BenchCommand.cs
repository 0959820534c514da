using System.CommandLine;
using Aletheia.Wal.Tool.Bench;
using Spectre.Console;

namespace Aletheia.Wal.Tool.Commands;

/// <summary>
/// <c>aletheia-wal bench</c>: a short tour of the log's append forms on this machine's disk, every record written read
/// back and checked, against the disk's own write-through rate measured in the same run. Prints one table (or, with
/// <c>--json</c>, one JSON object).
/// </summary>
internal static class BenchCommand
{
    /// <summary>A record read back differs from what the tour wrote (WalTool's exit code for a damaged log).</summary>
    internal const int VerificationFailed = 1;

    /// <summary>The tour could not run: the log or the disk failed (WalTool's exit code for "could not run").</summary>
    internal const int CouldNotRun = 3;

    /// <summary>Stopped by Ctrl+C (SIGINT's conventional exit code); the temporary directory is deleted all the same.</summary>
    internal const int Cancelled = 130;

    public static Command Create(IAnsiConsole console)
    {
        var threads = new Option<string[]>("--threads")
        {
            Description = "Thread counts for the closed-loop AppendDurable workload, one run each. Default: 1,64.",
            HelpName = "n,n,...",
            AllowMultipleArgumentsPerToken = true,
        };
        var payload = new Option<string>("--payload")
        {
            Description = $"Payload bytes of the durable workloads (AppendDurable, AppendDurableAsync), {BenchRecord.HeaderBytes} to {BenchSettings.MaxPayloadBytes}. Default: {BenchSettings.DefaultPayloadBytes}.",
            HelpName = "bytes",
        };
        var duration = new Option<string>("--duration")
        {
            Description = $"How long each workload runs, such as 200ms, 2.5s or 1m. Default: {BenchTable.Duration(BenchSettings.DefaultDuration)} (a tour of about 20 s).",
            HelpName = "time",
        };
        var inFlight = new Option<string>("--in-flight")
        {
            Description = $"AppendDurableAsync calls kept outstanding, 1 to {BenchSettings.MaxInFlight}. Default: {BenchSettings.DefaultInFlight}.",
            HelpName = "n",
        };
        var directory = new Option<string>("--directory")
        {
            Description = "Run in this directory instead of a fresh temporary one: it must be empty or hold an empty log, and is never deleted. "
                + "With --workloads verify alone: the bench log to check.",
            HelpName = "path",
        };
        var workloads = new Option<string[]>("--workloads")
        {
            Description = $"The parts of the tour to run: {BenchSettings.AllowedWorkloads}. Default: all.",
            HelpName = "name,name,...",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Write one JSON object with every figure instead of the table." };

        var command = new Command("bench", "Measure the log on this machine's disk: durable, async and burst appends, every record read back and checked, and the disk's raw write-through rate for reference.")
        {
            threads, payload, duration, inFlight, directory, workloads, json,
        };

        command.SetAction((parsed, token) =>
        {
            TextWriter output = console.Profile.Out.Writer;
            if (!BenchSettings.TryCreate(
                    parsed.GetValue(threads),
                    parsed.GetValue(payload),
                    parsed.GetValue(duration),
                    parsed.GetValue(inFlight),
                    parsed.GetValue(directory),
                    parsed.GetValue(workloads),
                    parsed.GetValue(json),
                    out BenchSettings? settings,
                    out string? error))
            {
                output.WriteLine("bench: " + error);
                return Task.FromResult(WalTool.UsageError);
            }

            // The tour blocks its thread (dedicated workload threads do the work, the driver waits and draws progress).
            return Task.FromResult(Run(console, settings, token));
        });
        return command;
    }

    private static int Run(IAnsiConsole console, BenchSettings settings, CancellationToken token)
    {
        TextWriter output = console.Profile.Out.Writer;
        BenchDirectory? place;
        try
        {
            if (settings.Directory is null)
            {
                place = BenchDirectory.CreateTemporary();
            }
            else if (!BenchDirectory.TryUseGiven(settings.Directory, settings, out place, out string? error))
            {
                output.WriteLine("bench: " + error);
                return WalTool.UsageError;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            output.WriteLine("bench: could not run: " + e.Message);
            return CouldNotRun;
        }

        BenchReport? report = null;
        string? failure = null;
        try
        {
            bool live = console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi && !settings.Json;
            if (live)
            {
                console.Progress()
                    .AutoRefresh(false) // drawn by the driver thread between its waits: no refresh thread allocating during a measurement
                    .AutoClear(true)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new ElapsedTimeColumn())
                    .Start(context => report = BenchTour.Run(settings, place.Path, new TourPacer(token, context)));
            }
            else
            {
                report = BenchTour.Run(settings, place.Path, new TourPacer(token, progress: null));
            }
        }
        catch (Exception e)
        {
            // Whatever failed (the log, the disk, a stuck thread), the run has no figures to give: one line, exit 3.
            failure = Describe(e);
        }
        finally
        {
            if (place.DeleteIfTemporary() is { } leftover)
            {
                output.WriteLine("bench: " + leftover);
            }
        }

        if (failure is not null || report is null)
        {
            output.WriteLine("bench: could not run: " + failure);
            return CouldNotRun;
        }

        if (settings.Json)
        {
            output.WriteLine(BenchJson.Write(report));
        }
        else
        {
            BenchTable.Write(console, report);
        }

        // With --json the object says it all ("cancelled", "verification"); the output stays one JSON object.
        if (report.Cancelled)
        {
            if (!settings.Json)
            {
                output.WriteLine("bench: cancelled" + (place.Temporary ? "; the temporary directory was deleted." : "."));
            }

            return Cancelled;
        }

        if (report.Verification is { Passed: false } verification)
        {
            if (!settings.Json)
            {
                output.WriteLine($"bench: verification failed at LSN {verification.FirstBadLsn}: {verification.Problem}");
            }

            return VerificationFailed;
        }

        return WalTool.Ok;
    }

    private static string Describe(Exception e) =>
        e is WalException or IOException or UnauthorizedAccessException or TimeoutException ? e.Message : $"{e.GetType().Name}: {e.Message}";
}
