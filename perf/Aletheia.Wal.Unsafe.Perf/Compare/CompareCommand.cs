using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aletheia.Wal.Perf.Compare.Report;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// <c>compare</c>: every workload against every peer, each run in its own process (<c>dotnet &lt;this dll&gt; run-one ...</c>),
/// the peers of a workload one after another with their order rotated each round, a pause between runs, R rounds; then the
/// medians per (workload, peer) and this log's ratio to each peer, written between the markers of perf/RESULTS.md (or
/// with <c>--out FILE</c> to a file of their own, or with <c>--dry</c> to stdout only). A run that fails or hangs is
/// reported in the tables, not fatal.
/// </summary>
internal static class CompareCommand
{
    public const string Name = "compare";

    public static int Run(string[] args)
    {
        var settings = new RunSettings.Options();
        var workloads = new Option<string>("--workloads")
        {
            Description = "Workloads to run, comma separated: " + string.Join(",", WorkloadCatalog.All.Select(w => w.Name)) + ". Default: all.",
        };
        var peers = new Option<string>("--peers")
        {
            Description = "Run only these peers, comma separated: " + string.Join(",", WorkloadCatalog.PeerDescriptions.Keys) + ". Default: all.",
        };
        var rounds = new Option<int>("--rounds") { Description = "Rounds; each figure is the median over them.", DefaultValueFactory = _ => 2 };
        var pause = new Option<double>("--pause") { Description = "Seconds of pause between two runs.", DefaultValueFactory = _ => 2 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds a run may take before it is killed and reported as timed out.", DefaultValueFactory = _ => 300 };
        var root = new Option<string>("--root")
        {
            Description = "Where each run gets a fresh directory (deleted after it).",
            DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "aletheia-compare"),
        };
        var results = new Option<string>("--results") { Description = "The RESULTS.md whose marked section is replaced. Default: perf/RESULTS.md of the repository above the current directory." };
        var output = new Option<string>("--out") { Description = "Write the section (with its markers) to this file instead of RESULTS.md." };
        var dry = new Option<bool>("--dry") { Description = "Write nothing: print the section on stdout only." };
        var runsJson = new Option<string>("--runs-json") { Description = "Also write every run's result (JSON array) to this file." };
        rounds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--rounds must be at least 1.");
            }
        });
        pause.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() < 0)
            {
                r.AddError("--pause must be 0 or more seconds.");
            }
        });
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() <= 0)
            {
                r.AddError("--timeout must be more than 0 seconds.");
            }
        });
        workloads.Validators.Add(r =>
        {
            foreach (string name in Split(r.GetValueOrDefault<string>()))
            {
                if (!WorkloadCatalog.All.Any(w => w.Name == name))
                {
                    r.AddError($"Unknown workload '{name}' in --workloads. Known: {string.Join(", ", WorkloadCatalog.All.Select(w => w.Name))}.");
                }
            }
        });
        peers.Validators.Add(r =>
        {
            foreach (string name in Split(r.GetValueOrDefault<string>()))
            {
                if (!WorkloadCatalog.PeerDescriptions.ContainsKey(name))
                {
                    r.AddError($"Unknown peer '{name}' in --peers. Known: {string.Join(", ", WorkloadCatalog.PeerDescriptions.Keys)}.");
                }
            }
        });

        var command = new Command(Name, "Runs every workload against every peer, each run in its own process, and writes the comparison tables into perf/RESULTS.md.")
        {
            workloads, peers, rounds, pause, timeout, root, results, output, dry, runsJson,
        };
        foreach (Option option in settings.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(parsed =>
        {
            string[] workloadNames = Split(parsed.GetValue(workloads));
            string[] peerNames = Split(parsed.GetValue(peers));
            WorkloadInfo[] selected = WorkloadCatalog.All.Where(w => workloadNames.Length == 0 || workloadNames.Contains(w.Name)).ToArray();
            string? target = null;
            if (!parsed.GetValue(dry) && parsed.GetValue(output) is null)
            {
                target = parsed.GetValue(results) ?? FindResults();
                if (target is null || !File.Exists(target))
                {
                    Console.Error.WriteLine($"compare: RESULTS.md not found{(target is null ? " above the current directory" : $" at '{target}'")}: pass --results PATH, --out FILE or --dry.");
                    return 2;
                }
            }

            var plan = new Plan(selected, peerNames, parsed.GetValue(rounds), parsed.GetValue(pause), parsed.GetValue(timeout), parsed.GetValue(root)!, settings.Read(parsed));
            string commandLine = "Aletheia.Wal.Unsafe.Perf compare" + string.Concat(args.Select(a => " " + Quote(a)));
            return Execute(plan, commandLine, target, parsed.GetValue(output), parsed.GetValue(runsJson));
        });
        return new RootCommand { command }.Parse([Name, .. args]).Invoke();
    }

    /// <summary>What one compare runs, and how.</summary>
    private sealed record Plan(WorkloadInfo[] Workloads, string[] Peers, int Rounds, double PauseSeconds, double TimeoutSeconds, string Root, RunSettings Settings)
    {
        public IEnumerable<(int Round, WorkloadInfo Workload, string Peer)> Runs()
        {
            for (int round = 1; round <= Rounds; round++)
            {
                foreach (WorkloadInfo workload in Workloads)
                {
                    string[] runnable = workload.RunnablePeers.Where(p => Peers.Length == 0 || Peers.Contains(p)).ToArray();
                    for (int i = 0; i < runnable.Length; i++)
                    {
                        // Rotated each round: no peer always runs first (after the previous workload) or last.
                        yield return (round, workload, runnable[(i + round - 1) % runnable.Length]);
                    }
                }
            }
        }
    }

    private static int Execute(Plan plan, string commandLine, string? target, string? output, string? runsJson)
    {
        Directory.CreateDirectory(plan.Root);
        string loadBefore = MachineDescription.LoadAverage();
        var runs = plan.Runs().ToArray();
        var results = new List<RunResult>(runs.Length);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < runs.Length; i++)
        {
            (int round, WorkloadInfo workload, string peer) = runs[i];
            if (i > 0 && plan.PauseSeconds > 0)
            {
                Thread.Sleep(TimeSpan.FromSeconds(plan.PauseSeconds));
            }

            RunResult result = RunChild(plan, round, workload, peer);
            results.Add(result);
            Console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"compare: [{i + 1}/{runs.Length}] round {round}, {workload.Name}, {peer}: {Brief(result)} ({clock.Elapsed.TotalMinutes:F1} min so far)"));
        }

        string loadAfter = MachineDescription.LoadAverage();
        var header = new ReportHeader(
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            commandLine,
            [.. MachineDescription.Describe(plan.Root), $"Load average (1 / 5 / 15 min): {loadBefore} before the runs, {loadAfter} after; {clock.Elapsed.TotalMinutes:F1} minutes in all"],
            Method(plan));
        string body = ComparisonReport.Format(header, plan.Workloads, ComparisonReport.Summarize(results));
        if (runsJson is not null)
        {
            File.WriteAllText(runsJson, JsonSerializer.Serialize(results, RunOneCommand.Json));
        }

        Console.Out.Write(ResultsSection.Standalone(body));
        if (output is not null)
        {
            File.WriteAllText(output, ResultsSection.Standalone(body));
            Console.Error.WriteLine($"compare: wrote the section to {output}");
        }
        else if (target is not null)
        {
            File.WriteAllText(target, ResultsSection.Replace(File.ReadAllText(target), body));
            Console.Error.WriteLine($"compare: replaced the section of {target}");
        }

        return results.All(r => r.Status is RunStatus.Ok or RunStatus.Skipped) ? 0 : 1;
    }

    private static RunResult RunChild(Plan plan, int round, WorkloadInfo workload, string peer)
    {
        string directory = Path.Combine(plan.Root, $"{workload.Name}-{peer}-r{round}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = false, // the child's progress and errors go straight to this terminal
        };
        start.ArgumentList.Add(typeof(CompareCommand).Assembly.Location);
        foreach (string argument in (string[])[RunOneCommand.Name, "--workload", workload.Name, "--peer", peer, "--directory", directory,
                     "--round", round.ToString(CultureInfo.InvariantCulture), .. plan.Settings.ToArguments()])
        {
            start.ArgumentList.Add(argument);
        }

        var failed = new RunResult { Workload = workload.Name, Peer = peer, Round = round, Status = RunStatus.Failed };
        try
        {
            using Process child = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned no process.");
            Task<string> stdout = child.StandardOutput.ReadToEndAsync();
            if (!child.WaitForExit(TimeSpan.FromSeconds(plan.TimeoutSeconds)))
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit(TimeSpan.FromSeconds(30));
                return failed with { Status = RunStatus.TimedOut, Error = $"killed after {plan.TimeoutSeconds:F0} s" };
            }

            child.WaitForExit(); // the stdout reader has seen the end of the stream
            string? line = stdout.Result.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'));
            if (line is null)
            {
                return failed with { Error = $"exit code {child.ExitCode}, no result printed" };
            }

            RunResult? result = JsonSerializer.Deserialize<RunResult>(line, RunOneCommand.Json);
            return result ?? failed with { Error = "an empty result" };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return failed with { Error = $"{e.GetType().Name}: {e.Message}".ReplaceLineEndings(" ") };
        }
        finally
        {
            Load.LoadCommand.TryDeleteDirectory(directory, Name);
        }
    }

    private static string Method(Plan plan)
    {
        RunSettings s = plan.Settings;
        return string.Create(CultureInfo.InvariantCulture, $"""
            Each (workload, peer, round) ran in its own process (`run-one`), in a fresh directory under `--root` deleted after it; within a round the peers of a workload ran one after another, their order rotated each round, with {plan.PauseSeconds:0.#} s between runs; {plan.Rounds} round(s). Each figure is the median over the rounds that succeeded, each column on its own. Closed loop, async and raw device: {s.Warmup:0.#} s of warm-up, then {s.Seconds:0.#} s measured; latency is per append or write (HdrHistogram; the closed loop keeps the load driver's exact percentiles over every sample). Bursts: {s.Burst64Mebibytes} MiB (64 B records) or {s.Burst1kMebibytes} MiB (1 KiB records) of payload per burst, half from each of 2 producer threads, timed from the start signal to the return of the one durability call; each log then checks that it holds exactly what was appended. Recovery: a log of {s.RecoveryMebibytes} MiB of 1 KiB records. MB/s is 10^6 bytes of payload per second. B/append is what the whole process allocated over the measured window, per append. The ratio is this log's figure over the peer's (records/s for closed loop and async, MB/s for the others).
            """);
    }

    private static string Brief(RunResult r) => r.Status switch
    {
        RunStatus.Ok => string.Create(CultureInfo.InvariantCulture, $"{ComparisonReport.Number(r.RecordsPerSecond)} records/s, {ComparisonReport.Number(r.MegabytesPerSecond)} MB/s{(r.P99Micros is { } p99 ? $", p99 {p99:N0} us" : "")}{(r.Note is null ? "" : "; " + r.Note)}"),
        _ => $"{r.Status}: {r.Error}",
    };

    private static string DotnetHost()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    private static string? FindResults()
    {
        for (DirectoryInfo? at = new(Directory.GetCurrentDirectory()); at is not null; at = at.Parent)
        {
            string candidate = Path.Combine(at.FullName, "perf", "RESULTS.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string[] Split(string? list) =>
        list is null ? [] : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Quote(string argument) => argument.Any(char.IsWhiteSpace) ? $"\"{argument}\"" : argument;
}
