using System.Diagnostics;
using System.Globalization;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// Reads a bench log back from its files (a snapshot <see cref="WalReader"/>, <see cref="WalRecoveryMode.Strict"/>: a
/// cleanly closed log has nothing to repair, so any damage fails) and checks every record: LSNs contiguous from the first;
/// each payload a bench record whose length is its workload's and whose every byte is what its (workload, producer,
/// sequence) must hold; each producer's sequences 0, 1, 2, ... in LSN order. Given the tour's figures it also checks
/// that each producer's count is what the workload reported appending, and that no record is of a workload the tour did
/// not run. The first problem ends the check, naming its LSN.
/// </summary>
internal sealed class TourVerifier
{
    private const int ReportEvery = 1 << 16;

    private readonly Dictionary<int, Producer> _producers = [];
    private readonly Dictionary<int, int> _lengths = [];
    private readonly IReadOnlyList<WorkloadResult>? _expected;

    private TourVerifier(IReadOnlyList<WorkloadResult>? expected)
    {
        _expected = expected;
        if (expected is not null)
        {
            foreach (WorkloadResult workload in expected)
            {
                _lengths[workload.Plan.Id] = workload.Plan.PayloadBytes;
            }
        }
    }

    /// <summary>Checks the log in <paramref name="directory"/>.</summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="expected">What the tour's workloads reported appending, or null to check the records against each other only (<c>--workloads verify</c> alone).</param>
    /// <param name="firstLsn">The LSN the tour's first record took, or <see cref="Lsn.None"/> to start wherever the log does.</param>
    /// <param name="pacer">Progress, and Ctrl+C: a cancelled check reports the records it verified, and no verdict beyond them.</param>
    public static VerificationResult Run(string directory, IReadOnlyList<WorkloadResult>? expected, Lsn firstLsn, TourPacer pacer)
    {
        var verifier = new TourVerifier(expected);
        return verifier.Read(directory, firstLsn, pacer, expected?.Sum(w => w.Records));
    }

    private VerificationResult Read(string directory, Lsn firstLsn, TourPacer pacer, long? expectedRecords)
    {
        long started = Stopwatch.GetTimestamp();
        long records = 0;
        long bytes = 0;
        ulong first = 0;
        ulong last = 0;
        VerificationResult Result(ulong? badLsn, string? problem) =>
            new(records, bytes, Stopwatch.GetElapsedTime(started).TotalSeconds, first, last, badLsn, problem);

        try
        {
            using WalReader reader = WalReader.Open(directory, Lsn.None, WalRecoveryMode.Strict);
            while (reader.TryRead(out WalRecord record))
            {
                ulong lsn = record.Lsn.Value;
                ulong wanted = records == 0 ? (firstLsn == Lsn.None ? lsn : firstLsn.Value) : last + 1;
                if (lsn != wanted)
                {
                    return Result(wanted, records == 0
                        ? $"the log's first record is LSN {lsn}; the tour's first was LSN {wanted}."
                        : $"LSN {last} is followed by LSN {lsn}.");
                }

                if (Check(record.Payload) is { } problem)
                {
                    return Result(lsn, problem);
                }

                first = records == 0 ? lsn : first;
                last = lsn;
                records++;
                bytes += record.Payload.Length;
                if (records % ReportEvery == 0)
                {
                    if (pacer.Cancelled)
                    {
                        return Result(null, null);
                    }

                    pacer.Report(expectedRecords is > 0 ? (double)records / expectedRecords.Value : 0);
                }
            }

            if (reader.StoppedAtUnverifiedWrite)
            {
                return Result(last + 1, $"the log ends in a write that cannot be verified after LSN {last} (torn, or not yet written).");
            }
        }
        catch (Exception e) when (e is WalCorruptionException or WalException or WalTruncatedException)
        {
            ulong bad = records == 0 ? (firstLsn == Lsn.None ? 1 : firstLsn.Value) : last + 1;
            return Result(bad, $"the log is damaged: {e.Message}");
        }

        return Missing() is { } missing ? Result(last + 1, missing) : Result(null, null);
    }

    // What is wrong with one record's payload, or null.
    private string? Check(ReadOnlySpan<byte> payload)
    {
        if (!BenchRecord.TryReadIdentity(payload, out RecordIdentity identity))
        {
            return $"a payload of {payload.Length} bytes is not a bench record (at least {BenchRecord.HeaderBytes} bytes).";
        }

        if (identity.Length != payload.Length)
        {
            return $"the payload holds {payload.Length} bytes, its header says {identity.Length}.";
        }

        if (_lengths.TryGetValue(identity.Workload, out int length))
        {
            if (length != payload.Length)
            {
                return $"{Name(identity.Workload)} wrote {length}-byte records; this one is {payload.Length} bytes.";
            }
        }
        else if (_expected is not null)
        {
            return $"the record names workload {identity.Workload}, which the tour did not run.";
        }
        else
        {
            _lengths.Add(identity.Workload, payload.Length);
        }

        int key = (identity.Workload << 16) | identity.Producer;
        if (!_producers.TryGetValue(key, out Producer? producer))
        {
            producer = new Producer();
            _producers.Add(key, producer);
        }

        if (identity.Sequence != producer.Next)
        {
            return $"{Name(identity.Workload)}, producer {identity.Producer}: record {identity.Sequence} where record {producer.Next} was due.";
        }

        int differs = BenchRecord.FirstBodyDifference(payload, identity);
        if (differs >= 0)
        {
            return $"{Name(identity.Workload)}, producer {identity.Producer}, record {identity.Sequence}: byte {differs} of {payload.Length} differs from what was written.";
        }

        producer.Next++;
        return null;
    }

    // Records each producer appended that the log does not hold (given the tour's figures).
    private string? Missing()
    {
        if (_expected is null)
        {
            return null;
        }

        foreach (WorkloadResult workload in _expected)
        {
            for (int p = 0; p < workload.ProducerRecords.Length; p++)
            {
                long held = _producers.TryGetValue((workload.Plan.Id << 16) | p, out Producer? producer) ? producer.Next : 0;
                if (held != workload.ProducerRecords[p])
                {
                    return $"{Name(workload.Plan.Id)}, producer {p}: appended {workload.ProducerRecords[p]:N0} records, the log holds {held:N0}.";
                }
            }
        }

        return null;
    }

    private string Name(int workload) =>
        _expected?.FirstOrDefault(w => w.Plan.Id == workload)?.Plan.Key ?? "workload " + workload.ToString(CultureInfo.InvariantCulture);

    private sealed class Producer
    {
        public long Next { get; set; }
    }
}
