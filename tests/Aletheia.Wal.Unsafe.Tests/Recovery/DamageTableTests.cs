using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// The damage table: each case with the verdict a person expects in each recovery mode, for the reader and for the
/// writer's recovery. The exact outcome (which records are kept, where the error points, what range is reported dropped)
/// comes from <see cref="DamageOracle"/>, computed from the pristine log; the declared verdict is checked against the
/// oracle's, and the log against both. "Keeps" means the log opens (or reads) and yields exactly the records the oracle
/// says, byte-exact; "Throws" means a <see cref="WalCorruptionException"/> naming the file and an offset within the
/// damaged write.
/// </summary>
public sealed class DamageTableTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public enum Verdict
    {
        Keeps,
        Throws,
    }

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, Verdict, Verdict, Verdict> Cases => new()
    {
        // case                                                        TruncateTornTail PointInTime    Strict
        { "torn last record",                                          Verdict.Keeps,  Verdict.Keeps,  Verdict.Throws },
        { "zeroed tail sector",                                        Verdict.Keeps,  Verdict.Keeps,  Verdict.Throws },
        { "garbage right after the end",                               Verdict.Keeps,  Verdict.Keeps,  Verdict.Throws },
        { "garbage far after the end",                                 Verdict.Keeps,  Verdict.Keeps,  Verdict.Keeps },
        { "flipped bit in a middle record",                            Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in a padding byte",                             Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in a segment header",                           Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in a batch header",                             Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "truncated header of the last segment",                      Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "truncated header of a middle segment",                      Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "missing middle segment",                                    Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "empty segment file at the end",                             Verdict.Keeps,  Verdict.Keeps,  Verdict.Keeps },
        { "segment from another log",                                  Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "zeroed sector at a batch header, records after it",         Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "zeroed header sector of the last segment, records after it", Verdict.Throws, Verdict.Keeps, Verdict.Throws },
        { "flipped bit in the header of a last segment of one batch",  Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in a batch header, later writes in reach",      Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in a middle segment's end marker",              Verdict.Keeps,  Verdict.Keeps,  Verdict.Throws },
        { "flipped bit in the header of the unused next segment",      Verdict.Keeps,  Verdict.Keeps,  Verdict.Keeps },
        { "garbage in the unused next segment after its header",       Verdict.Keeps,  Verdict.Keeps,  Verdict.Keeps },
        { "last segment cut short after its end",                      Verdict.Keeps,  Verdict.Keeps,  Verdict.Keeps },
        { "last segment cut short inside its last record",             Verdict.Throws, Verdict.Keeps,  Verdict.Throws },
        { "zeroed last sector of a log of small writes",               Verdict.Keeps,  Verdict.Keeps,  Verdict.Throws },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Damage_case_has_its_verdict_in_every_mode(string damage, Verdict tornTail, Verdict pointInTime, Verdict strict)
    {
        (DamageCheck check, string damaged) = DamageCases.Build(damage, _temp);
        Expectation expected = check.Verify(damaged, _temp.Log("scratch"), damage, Enum.GetValues<WalRecoveryMode>());
        var declared = new Dictionary<WalRecoveryMode, Verdict>
        {
            [WalRecoveryMode.TruncateTornTail] = tornTail,
            [WalRecoveryMode.PointInTime] = pointInTime,
            [WalRecoveryMode.Strict] = strict,
        };
        foreach ((WalRecoveryMode mode, Verdict verdict) in declared)
        {
            Assert.True(verdict == (expected.ThrowsAt(mode) is null ? Verdict.Keeps : Verdict.Throws), $"{damage}: the table says {verdict} in {mode}; the oracle says {expected}.");
        }
    }
}
