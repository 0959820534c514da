using Aletheia.Wal.Diagnostics;

namespace Aletheia.Wal.Worker;

/// <summary>
/// <c>async-stress DIR TASKS MILLISECONDS</c> (review of the async releaser): with random delays at every protocol step
/// (<see cref="ProtocolDelays"/>), TASKS async loops await AppendDurableAsync (a quarter of them with a token cancelled
/// at a random moment) and WaitForDurableAsync on LSNs already handed out, while two threads make sync durable appends,
/// so that both heaps are in use and the releaser races registrations, cancellations and the sync wake cascade. Checks:
/// every await completes (a lost wake-up shows as a loop that never ends); an acknowledged LSN is at or below the
/// durable LSN when the ack is seen; every acknowledged record is read back byte-exact at its LSN; a cancelled append
/// throws OperationCanceledException and nothing else. Prints "ok acks=.. cancelled=.. waits=.." or "fail: ...".
/// </summary>
internal static class AsyncWaitStress
{
    public static int Run(string directory, int tasks, int milliseconds)
    {
        if (!ProtocolDelays.Enabled)
        {
            return Fail($"the switch {ProtocolDelays.SwitchName} was not set before the library was first used");
        }

        var options = new WalOptions { Directory = directory, StripeCount = 2, StripeCapacityBytes = 8192, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 1024 };
        var acked = new System.Collections.Concurrent.ConcurrentDictionary<ulong, ulong>(); // LSN -> key
        long cancelled = 0;
        long waits = 0;
        string? failure = null;
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            long deadline = Environment.TickCount64 + milliseconds;
            var loops = new Task[tasks];
            for (int t = 0; t < tasks; t++)
            {
                int index = t;
                loops[t] = Task.Run(async () =>
                {
                    var random = new Random(index * 7919);
                    for (ulong sequence = 0; Environment.TickCount64 < deadline && failure is null; sequence++)
                    {
                        ulong key = ((ulong)index << 40) | sequence;
                        if (random.Next(4) == 0)
                        {
                            ulong last = log.LastLsn.Value;
                            if (last > 0)
                            {
                                var target = new Lsn((ulong)random.NextInt64(1, (long)last + 1));
                                await log.WaitForDurableAsync(target);
                                if (log.DurableLsn < target)
                                {
                                    failure = $"WaitForDurableAsync({target}) returned with the durable LSN at {log.DurableLsn}";
                                }

                                Interlocked.Increment(ref waits);
                            }

                            continue;
                        }

                        using var cancel = index % 4 == 0 ? new CancellationTokenSource(TimeSpan.FromTicks(random.Next(1, 20_000))) : null;
                        try
                        {
                            Lsn lsn = await log.AppendDurableAsync(Program.CrashPayload(key), cancel?.Token ?? CancellationToken.None);
                            if (log.DurableLsn < lsn)
                            {
                                failure = $"AppendDurableAsync returned LSN {lsn} with the durable LSN at {log.DurableLsn}";
                            }

                            if (!acked.TryAdd(lsn.Value, key))
                            {
                                failure = $"LSN {lsn} acknowledged twice";
                            }
                        }
                        catch (OperationCanceledException) when (cancel is not null)
                        {
                            Interlocked.Increment(ref cancelled);
                        }
                    }
                });
            }

            var syncThreads = new Thread[2];
            for (int s = 0; s < syncThreads.Length; s++)
            {
                int index = tasks + s;
                syncThreads[s] = new Thread(() =>
                {
                    for (ulong sequence = 0; Environment.TickCount64 < deadline && failure is null; sequence++)
                    {
                        ulong key = ((ulong)index << 40) | sequence;
                        Lsn lsn = log.AppendDurable(Program.CrashPayload(key));
                        if (!acked.TryAdd(lsn.Value, key))
                        {
                            failure = $"LSN {lsn} acknowledged twice";
                        }
                    }
                });
                syncThreads[s].Start();
            }

            if (!Task.WaitAll(loops, TimeSpan.FromMilliseconds(milliseconds + 60_000)))
            {
                Fail($"{loops.Count(l => !l.IsCompleted)} async loops did not finish within a minute of the deadline (a lost wake-up)");
                Environment.Exit(1); // not through Dispose, which would release the stuck waits
            }

            foreach (Thread thread in syncThreads)
            {
                if (!thread.Join(TimeSpan.FromSeconds(60)))
                {
                    Fail("a sync appender did not finish within a minute of the deadline");
                    Environment.Exit(1);
                }
            }

            if (failure is not null)
            {
                return Fail(failure);
            }
        }

        int found = 0;
        using (WalReader reader = WalReader.Open(directory))
        {
            while (reader.TryRead(out WalRecord record))
            {
                ulong key = BitConverter.ToUInt64(record.Payload);
                if (acked.TryGetValue(record.Lsn.Value, out ulong expected))
                {
                    if (expected != key || !record.Payload.SequenceEqual(Program.CrashPayload(key)))
                    {
                        return Fail($"record {record.Lsn} is not the acknowledged one (key {key:x}, expected {expected:x})");
                    }

                    found++;
                }
            }
        }

        if (found != acked.Count)
        {
            return Fail($"{acked.Count} records acknowledged, {found} of them read back");
        }

        Console.WriteLine($"ok acks={acked.Count} cancelled={cancelled} waits={waits}");
        return 0;
    }

    private static int Fail(string why)
    {
        Console.WriteLine($"fail: {why}");
        return 1;
    }
}
