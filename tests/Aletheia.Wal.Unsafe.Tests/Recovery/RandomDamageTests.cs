using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// Seeded random damage (bit flips, truncations, zeroed 512-byte sectors) over a real log, in its used segments and the
/// unused segment after them, read in every recovery mode and recovered by the writer: each outcome is exactly what
/// <see cref="DamageOracle"/> computes from the pristine log (the records kept, to the record; where the error points;
/// the dropped range reported). A recovery that drops one acknowledged batch more than the oracle says fails.
/// </summary>
public sealed class RandomDamageTests(ITestOutputHelper output) : IDisposable
{
    private const int Records = 300;
    private const int Seeds = 2000;

    /// <summary>One seed in this many is also inspected (<see cref="WalInspection"/>) in every mode.</summary>
    private const int InspectEvery = 10;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static int LengthOf(ulong lsn) => (int)(lsn * 2654435761 % 1500);

    private static byte[] PayloadOf(ulong lsn) => Payloads.Make(9, (long)lsn, LengthOf(lsn));

    private static WalOptions Options(string directory, WalRecoveryMode mode) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 2, RecoveryMode = mode };

    private string BuildPristineLog()
    {
        string directory = _temp.Log("pristine");
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory, WalRecoveryMode.TruncateTornTail));
        for (ulong lsn = 1; lsn <= Records; lsn++)
        {
            // Mixed batch sizes: some records are their own write, others share one.
            if (lsn % 7 == 0)
            {
                log.AppendDurable(PayloadOf(lsn));
            }
            else
            {
                log.Append(PayloadOf(lsn));
            }
        }

        return directory;
    }

    [Fact]
    public void Random_damage_has_exactly_the_outcome_the_pristine_log_dictates_in_every_mode()
    {
        var check = new DamageCheck(BuildPristineLog(), PayloadOf, Options);
        LayoutSegment[] victims = check.Layout.Segments.Where(s => s.Used || s.Number == check.Layout.Used.Last().Number + 1).ToArray();
        Assert.True(victims.Count(v => v.Used) >= 3, "The log spans several segments.");
        var outcomes = new Dictionary<string, int>();
        int inspected = 0;
        Bounded.Run(() =>
        {
            for (int seed = 0; seed < Seeds; seed++)
            {
                var random = new Random(seed);
                string damaged = _temp.Log($"case-{seed}");
                check.CopyTo(damaged);
                LayoutSegment victim = victims[random.Next(victims.Length)];
                string damage = Damage(Path.Combine(damaged, Path.GetFileName(victim.Path)), victim.Used ? victim.DataEnd + BatchHeader.Size : 4096, random);

                // The writer's recovery rewrites files: one mode per seed, in turn.
                WalRecoveryMode openMode = (WalRecoveryMode)(seed % 3);
                Expectation expected = check.Verify(damaged, _temp.Log($"scratch-{seed}"), $"seed {seed}, {damage}", [openMode]);
                if (seed % InspectEvery == 0)
                {
                    // WalInspection runs recovery's code: its report in every mode is held to the same oracle, and to Open.
                    check.VerifyInspection(damaged, _temp.Log($"scratch-{seed}"), $"seed {seed}, {damage}");
                    inspected++;
                }

                string outcome = expected.CutUnit is null ? (expected.StrictUnit is null ? "harmless" : "made good") : expected.IsCorruption ? "corruption" : "torn tail";
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                Directory.Delete(damaged, recursive: true);
                Directory.Delete(_temp.Log($"scratch-{seed}"), recursive: true);
            }
        }, TimeSpan.FromMinutes(6));

        // Each kind of outcome occurs (an end marker made good by the next segment is rare here, and has its own table row):
        // the seeds exercise the whole table, not one corner of it.
        string seen = string.Join(", ", outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}"));
        output.WriteLine($"{Seeds} seeds ({inspected} also inspected in every mode): {seen}");
        Assert.True(new[] { "harmless", "torn tail", "corruption" }.All(outcomes.ContainsKey), $"Outcomes: {seen}.");
    }

    /// <summary>Damages one file at random within its first <paramref name="used"/> bytes (and sometimes past them).</summary>
    private static string Damage(string path, long used, Random random)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int span = (int)Math.Min(bytes.Length, used + 1024);
        switch (random.Next(3))
        {
            case 0:
                int flips = random.Next(1, 4);
                var at = new List<int>();
                for (int i = 0; i < flips; i++)
                {
                    at.Add(random.Next(span));
                    bytes[at[^1]] ^= (byte)(1 << random.Next(8));
                }

                File.WriteAllBytes(path, bytes);
                return $"{flips} bit flip(s) in {Path.GetFileName(path)} at {string.Join(", ", at)}";
            case 1:
                int length = random.Next(span);
                File.WriteAllBytes(path, bytes.AsSpan(0, length).ToArray());
                return $"{Path.GetFileName(path)} truncated to {length} bytes";
            default:
                int sector = random.Next((span + 511) / 512);
                Array.Clear(bytes, sector * 512, Math.Min(512, bytes.Length - (sector * 512)));
                File.WriteAllBytes(path, bytes);
                return $"sector {sector} of {Path.GetFileName(path)} zeroed";
        }
    }
}
