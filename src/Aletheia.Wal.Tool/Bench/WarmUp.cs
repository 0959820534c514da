using System.Diagnostics;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// What comes before the first measurement. The log's opening work (zero-filling the next segment in the background) is
/// let finish. Then each append form the tour measures runs briefly as a warm-up (<see cref="PlannedWorkload.WarmUp"/>),
/// with as many threads or slots as it will have: the process's first calls of each path (JIT and tiering, the runtime's
/// one-off setup of contended waits, pools filled) are not measured. Measured, the first 64-thread durable run of a
/// process allocated 16 KB that a second run did not.
/// </summary>
internal static class WarmUp
{
    private static readonly TimeSpan s_settleLimit = TimeSpan.FromSeconds(5);

    /// <summary>The warm-ups for the measured <paramref name="workloads"/>, numbered from <paramref name="firstId"/>.</summary>
    public static List<PlannedWorkload> Plan(IReadOnlyList<PlannedWorkload> workloads, int firstId)
    {
        var plan = new List<PlannedWorkload>();
        void Add(PlannedWorkload? like, string key)
        {
            if (like is not null)
            {
                plan.Add(like with { Id = firstId + plan.Count, Key = "warm-up-" + key, Label = "warm-up: " + like.Label, WarmUp = true });
            }
        }

        Add(workloads.Where(w => w.Kind == BenchWorkloads.Durable).MaxBy(w => w.Producers), "durable");
        Add(workloads.FirstOrDefault(w => w.Kind == BenchWorkloads.Async), "async");
        Add(workloads.FirstOrDefault(w => w.Kind is BenchWorkloads.Burst64 or BenchWorkloads.Burst1K), "burst");
        return plan;
    }

    /// <summary>
    /// Waits (at most 5 s) until the segment after the first is prepared: no <c>*.wal.tmp</c> file left and two segment
    /// files (native-layout.md: a segment is zero-filled under a <c>.tmp</c> name, renamed once durable). Its 64 MiB of
    /// zeros would otherwise be written during the first workload.
    /// </summary>
    public static void WaitForPreparedSegment(string directory, CancellationToken token)
    {
        long started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < s_settleLimit && !token.IsCancellationRequested)
        {
            if (Directory.GetFiles(directory, "*.wal.tmp").Length == 0 && Directory.GetFiles(directory, "*.wal").Length >= 2)
            {
                return;
            }

            token.WaitHandle.WaitOne(10);
        }
    }
}
