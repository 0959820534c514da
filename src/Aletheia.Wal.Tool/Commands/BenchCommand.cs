using System.CommandLine;
using Aletheia.Wal.Tool.Bench;
using Spectre.Console;

namespace Aletheia.Wal.Tool.Commands;

/// <summary>
/// <c>aletheia-wal bench</c>: a short tour of the log's append forms on this machine's disk, every record written read
/// back and checked, against the disk's own write-through rate measured in the same run. Prints one table (or, with
/// <c>--json</c>, one JSON object). Exit codes: <see cref="WalTool.Damaged"/> when a record read back is not what was
/// written; <see cref="WalTool.UsageError"/> for a bad value or directory; <see cref="WalTool.CouldNotRun"/> when the
/// log or the disk failed, or Ctrl+C stopped the tour (what was measured until then is printed).
/// </summary>
internal static class BenchCommand
{
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
        var stripes = new Option<string>("--stripes") { Description = "WalOptions.StripeCount of the tour's log. Default: the log's.", HelpName = "n" };
        var stripeCapacity = new Option<string>("--stripe-capacity") { Description = "WalOptions.StripeCapacityBytes, such as 1M. Default: the log's.", HelpName = "bytes" };
        var writeBuffer = new Option<string>("--write-buffer") { Description = "WalOptions.WriteBufferBytes, the largest write, such as 4M. Default: the log's.", HelpName = "bytes" };
        var segmentSize = new Option<string>("--segment-size") { Description = "WalOptions.SegmentSizeBytes, such as 256M. Default: the log's.", HelpName = "bytes" };
        var json = new Option<bool>("--json") { Description = "Write one JSON object with every figure instead of the table." };

        var command = new Command("bench", "Measure the log on this machine's disk: durable, async and burst appends, every record read back and checked, and the disk's raw write-through rate for reference.")
        {
            threads, payload, duration, inFlight, directory, workloads, stripes, stripeCapacity, writeBuffer, segmentSize, json,
        };

        command.SetAction((parsed, token) =>
        {
            if (!BenchSettings.TryCreate(
                    parsed.GetValue(threads),
                    parsed.GetValue(payload),
                    parsed.GetValue(duration),
                    parsed.GetValue(inFlight),
                    parsed.GetValue(directory),
                    parsed.GetValue(workloads),
                    parsed.GetValue(json),
                    new BenchSettings.LogTuning(parsed.GetValue(stripes), parsed.GetValue(stripeCapacity), parsed.GetValue(writeBuffer), parsed.GetValue(segmentSize)),
                    out BenchSettings? settings,
                    out string? error))
            {
                throw new ToolException(WalTool.UsageError, error);
            }

            // The tour blocks its thread (dedicated workload threads do the work, the driver waits and draws progress).
            return Task.FromResult(Run(console, settings, token));
        });
        return command;
    }

    private static int Run(IAnsiConsole console, BenchSettings settings, CancellationToken token)
    {
        BenchDirectory? place;
        if (settings.Directory is null)
        {
            place = BenchDirectory.CreateTemporary();
        }
        else if (!BenchDirectory.TryUseGiven(settings.Directory, settings, out place, out string? error))
        {
            throw new ToolException(WalTool.UsageError, error);
        }

        BenchReport? report = null;
        string? failure = null;
        string? leftover;
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
            failure = e is WalException or IOException or UnauthorizedAccessException or TimeoutException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            leftover = place.DeleteIfTemporary();
        }

        if (failure is not null || report is null)
        {
            throw new ToolException(WalTool.CouldNotRun, $"bench could not run: {failure}" + (leftover is null ? "" : $"; {leftover}"));
        }

        TextWriter output = console.Profile.Out.Writer;
        if (settings.Json)
        {
            output.WriteLine(BenchJson.Write(report));
        }
        else
        {
            BenchTable.Write(console, report);
        }

        if (report.Verification is { Passed: false } verification)
        {
            throw new ToolException(WalTool.Damaged, $"verification failed at LSN {verification.FirstBadLsn}: {verification.Problem}");
        }

        if (report.Cancelled)
        {
            throw new ToolException(WalTool.CouldNotRun, "bench cancelled: the figures printed are those measured until then" + (place.Temporary ? "; the temporary directory was deleted." : "."));
        }

        if (leftover is not null)
        {
            throw new ToolException(WalTool.CouldNotRun, "bench " + leftover);
        }

        return WalTool.Ok;
    }
}
