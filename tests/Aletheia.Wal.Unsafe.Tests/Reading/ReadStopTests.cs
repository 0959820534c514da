using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Reading;

/// <summary><see cref="WalReader.StoppedAt"/>: where and why a snapshot reader stopped, at the end of the log, at a torn tail, at damage PointInTime ends the log at.</summary>
public sealed class ReadStopTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static int ReadAll(WalReader reader)
    {
        int count = 0;
        while (reader.TryRead(out _))
        {
            Assert.Null(reader.StoppedAt); // none while it returns records
            count++;
        }

        return count;
    }

    [Fact]
    public void A_reader_at_the_end_of_the_log_stopped_at_its_open_end_marker()
    {
        string log = _temp.Log();
        DamageCases.Write(log, seed: 5, records: 150, payload: 1001);
        LogLayout layout = LogLayout.Read(log);
        using WalReader reader = WalReader.Open(log);

        Assert.Equal(150, ReadAll(reader));

        WalReadStop stop = reader.StoppedAt!;
        Assert.Equal((layout.Used.Last().Path, layout.EndOfLog, "an open end marker: the log ends here"), (stop.SegmentPath, stop.Offset, stop.Reason));
        Assert.False(reader.StoppedAtUnverifiedWrite);
    }

    [Theory]
    [InlineData("torn last record", WalRecoveryMode.TruncateTornTail)]
    [InlineData("flipped bit in a middle record", WalRecoveryMode.PointInTime)]
    public void A_reader_at_a_write_it_cannot_verify_says_where_it_is(string damage, WalRecoveryMode mode)
    {
        (DamageCheck check, string damaged) = DamageCases.Build(damage, _temp);
        LayoutUnit unit = check.Expect(damaged).CutUnit!;
        using WalReader reader = WalReader.Open(damaged, Lsn.None, mode);

        Assert.Equal((int)(unit.FirstLsn - 1), ReadAll(reader));

        WalReadStop stop = reader.StoppedAt!;
        Assert.True(reader.StoppedAtUnverifiedWrite);
        Assert.Equal(Path.GetFileName(unit.Path), Path.GetFileName(stop.SegmentPath));
        Assert.InRange(stop.Offset, unit.Start, unit.End - 1);
        Assert.Equal("the frame's CRC-32C does not match", stop.Reason);
    }
}
