using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// Seeded random damage (bit flips, truncations, zeroed 512-byte sectors) over a real log, read in every recovery mode
/// and recovered by the writer: the only outcomes are a valid, byte-exact prefix of the log or a
/// <see cref="WalCorruptionException"/> that locates the damage. Never another exception, never a wrong byte, never a hang.
/// </summary>
public sealed class RandomDamageTests : IDisposable
{
    private const int Records = 300;

    [ThreadStatic]
    private static string? t_lastCorruption;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static int LengthOf(ulong lsn) => (int)(lsn * 2654435761 % 1500);

    private static byte[] PayloadOf(ulong lsn) => Payloads.Make(9, (long)lsn, LengthOf(lsn));

    private Dictionary<string, byte[]> BuildPristineLog()
    {
        string directory = _temp.Log("pristine");
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 2 }))
        {
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
        }

        return Directory.GetFiles(directory, "*.wal").ToDictionary(p => Path.GetFileName(p), File.ReadAllBytes);
    }

    [Fact]
    public void Random_damage_yields_a_valid_prefix_or_a_located_corruption_error()
    {
        Dictionary<string, byte[]> pristine = BuildPristineLog();
        string[] names = pristine.Keys.Where(n => pristine[n].AsSpan(0, 8).ContainsAnyExcept((byte)0)).Order(StringComparer.Ordinal).ToArray();
        Assert.True(names.Length >= 3, "The log spans several segments.");
        int corruptionErrors = 0;
        int prefixes = 0;
        Bounded.Run(() =>
        {
            for (int seed = 0; seed < 2000; seed++)
            {
                var random = new Random(seed);
                string directory = _temp.Log($"case-{seed}");
                Directory.CreateDirectory(directory);
                foreach ((string name, byte[] bytes) in pristine)
                {
                    File.WriteAllBytes(Path.Combine(directory, name), bytes);
                }

                string victim = Path.Combine(directory, names[random.Next(names.Length)]);
                string damage = Damage(victim, random);

                foreach (WalRecoveryMode mode in Enum.GetValues<WalRecoveryMode>())
                {
                    if (CheckRead(directory, mode, $"seed {seed}, {damage}, reader in {mode}"))
                    {
                        prefixes++;
                    }
                    else
                    {
                        corruptionErrors++;
                    }
                }

                // The writer's recovery, on a third of the cases (it rewrites files): then the log reads clean in Strict.
                if (seed % 3 == 0)
                {
                    WalRecoveryMode mode = seed % 2 == 0 ? WalRecoveryMode.PointInTime : WalRecoveryMode.TruncateTornTail;
                    try
                    {
                        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, RecoveryMode = mode }))
                        {
                            log.AppendDurable(PayloadOf(log.LastLsn.Value + 1));
                        }

                        Assert.True(CheckRead(directory, WalRecoveryMode.Strict, $"seed {seed}, {damage}, after {mode} recovery"), $"After recovery the log reads clean; it does not: {t_lastCorruption}");
                    }
                    catch (WalCorruptionException e)
                    {
                        AssertLocated(e, directory, $"seed {seed}, {damage}, writer in {mode}");
                        Assert.NotEqual(WalRecoveryMode.PointInTime, mode);
                    }
                }

                Directory.Delete(directory, recursive: true);
            }
        }, TimeSpan.FromMinutes(4));
        Assert.True(prefixes > 0 && corruptionErrors > 0, $"Both outcomes occur ({prefixes} prefixes, {corruptionErrors} corruption errors).");
    }

    private static string Damage(string path, Random random)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int used = bytes.Length - bytes.AsSpan().LastIndexOfAnyExcept((byte)0) > 0 ? bytes.AsSpan().LastIndexOfAnyExcept((byte)0) + 1 : bytes.Length;
        used = Math.Max(used, 64);
        switch (random.Next(3))
        {
            case 0:
                int flips = random.Next(1, 4);
                for (int i = 0; i < flips; i++)
                {
                    int at = random.Next(used);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }

                File.WriteAllBytes(path, bytes);
                return $"{flips} bit flip(s) in {Path.GetFileName(path)}";
            case 1:
                int length = random.Next(used);
                File.WriteAllBytes(path, bytes.AsSpan(0, length).ToArray());
                return $"{Path.GetFileName(path)} truncated to {length} bytes";
            default:
                int sector = random.Next((used + 511) / 512);
                Array.Clear(bytes, sector * 512, Math.Min(512, bytes.Length - (sector * 512)));
                File.WriteAllBytes(path, bytes);
                return $"sector {sector} of {Path.GetFileName(path)} zeroed";
        }
    }

    /// <returns>True for a valid prefix, false for a located corruption error.</returns>
    private static bool CheckRead(string directory, WalRecoveryMode mode, string context)
    {
        ulong expected = 0;
        try
        {
            using WalReader reader = WalReader.Open(directory, Lsn.None, mode);
            while (reader.TryRead(out WalRecord record))
            {
                expected = expected == 0 ? record.Lsn.Value : expected + 1;
                Assert.True(record.Lsn.Value == expected, $"{context}: LSNs run on without a hole ({record.Lsn} after {expected - 1}).");
                Assert.True(record.Payload.SequenceEqual(PayloadOf(record.Lsn.Value)), $"{context}: record {record.Lsn} is byte-exact.");
            }

            return true;
        }
        catch (WalCorruptionException e)
        {
            t_lastCorruption = $"{context}: {e.Message}";
            AssertLocated(e, directory, context);
            Assert.NotEqual(WalRecoveryMode.PointInTime, mode);
            return false;
        }
        catch (WalException e) when (e.Message.Contains("not a log directory", StringComparison.Ordinal))
        {
            return true; // every segment truncated to nothing: an empty log
        }
    }

    private static void AssertLocated(WalCorruptionException e, string directory, string context)
    {
        Assert.True(e.SegmentPath.StartsWith(directory, StringComparison.Ordinal), $"{context}: the error names a segment of the log ({e.SegmentPath}).");
        Assert.True(e.Offset >= 0, $"{context}: the error gives an offset ({e.Offset}).");
    }
}
