using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class WalOptionsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, Func<string, WalOptions>> BadOptions => new()
    {
        { "StripeCount", d => new WalOptions { Directory = d, StripeCount = 0 } },
        { "StripeCount", d => new WalOptions { Directory = d, StripeCount = 5000 } },
        { "StripeCapacityBytes", d => new WalOptions { Directory = d, StripeCapacityBytes = 100 } },
        { "MaxEntryBytes", d => new WalOptions { Directory = d, MaxEntryBytes = 0 } },
        { "MaxEntryBytes", d => new WalOptions { Directory = d, StripeCapacityBytes = 65536, MaxEntryBytes = 65536 } },
        { "SegmentSizeBytes", d => new WalOptions { Directory = d, SegmentSizeBytes = 1000 } },
        { "WriteBufferBytes", d => new WalOptions { Directory = d, WriteBufferBytes = 100 } },
        { "RecoveryMode", d => new WalOptions { Directory = d, RecoveryMode = (WalRecoveryMode)7 } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Invalid_option_names_itself_and_the_allowed_range(string option, Func<string, WalOptions> make)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => WriteAheadLog.Open(make(_temp.Log())));
        Assert.Equal(option, e.ParamName);
        Assert.Contains($"WalOptions.{option} must be", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Log()), "Options are checked before anything is created.");
    }

    [Fact]
    public void Defaults_follow_the_contract()
    {
        var options = new WalOptions { Directory = "x" };
        Assert.Equal((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount), options.StripeCount);
        Assert.Equal(1 << 20, options.StripeCapacityBytes);
        Assert.Equal(64L << 20, options.SegmentSizeBytes);
        Assert.Equal(64 * 1024, options.MaxEntryBytes);
        Assert.Equal(WalRecoveryMode.TruncateTornTail, options.RecoveryMode);
    }
}
