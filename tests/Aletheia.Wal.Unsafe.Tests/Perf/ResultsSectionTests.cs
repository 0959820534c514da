using Aletheia.Wal.Perf.Compare.Report;
using Xunit;

namespace Aletheia.Wal.Tests.Perf;

public sealed class ResultsSectionTests
{
    [Fact]
    public void Replace_rewrites_only_what_lies_between_the_markers()
    {
        string document = "# Results\n\nintro\n\n<!-- compare:begin -->\nold table\nmore\n<!-- compare:end -->\n\n## History\nkept\n";

        string replaced = ResultsSection.Replace(document, "new table");

        Assert.Equal("# Results\n\nintro\n\n<!-- compare:begin -->\nnew table\n<!-- compare:end -->\n\n## History\nkept\n", replaced);
        Assert.Equal(replaced, ResultsSection.Replace(replaced, "new table\n")); // regenerating the same section changes nothing
    }

    [Fact]
    public void Standalone_wraps_the_body_in_the_markers()
    {
        Assert.Equal("<!-- compare:begin -->\nbody\n<!-- compare:end -->\n", ResultsSection.Standalone("body"));
    }

    [Theory]
    [InlineData("no markers at all", "has no '<!-- compare:begin -->' line")]
    [InlineData("<!-- compare:begin -->\nx\n", "has no '<!-- compare:end -->' line")]
    [InlineData("<!-- compare:begin -->\n<!-- compare:end -->\n<!-- compare:begin -->\n", "'<!-- compare:begin -->' more than once")]
    [InlineData("<!-- compare:end -->\nx\n<!-- compare:begin -->\n", "comes before")]
    public void Replace_refuses_a_document_without_exactly_one_pair_of_markers_in_order(string document, string expected)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ResultsSection.Replace(document, "body"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
